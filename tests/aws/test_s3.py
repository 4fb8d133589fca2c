"""The DAG bucket against moto: created private, versioned and encrypted; repaired only when
drifted; someone else's bucket refused; deleted with every version when it is ours."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from farflow.aws.s3 import delete_dag_bucket, ensure_dag_bucket
from farflow.aws.session import TAG_KEY, AwsError
from tests.fixtures.aws import REGION
from tests.fixtures.aws_proxy import AwsProxy, Fault

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]
OWNER = "dags/test"
PRIVATE = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@pytest.fixture
def bucket() -> str:
    return f"farflow-test-{uuid.uuid4().hex[:12]}"


def s3() -> Any:
    return boto3.client("s3")


def algorithm(name: str) -> str:
    rules = s3().get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    return str(rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"])


def exists(name: str) -> bool:
    try:
        s3().head_bucket(Bucket=name)
    except ClientError:
        return False
    return True


def test_created_private_versioned_encrypted_and_tagged(bucket: str) -> None:
    state = ensure_dag_bucket(REGION, bucket, OWNER)
    assert state.name == bucket
    assert state.created
    assert state.repaired == ("publicAccessBlock", "encryption", "versioning")
    assert s3().get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert algorithm(bucket) == "AES256"
    block = s3().get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == PRIVATE
    assert s3().get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": TAG_KEY, "Value": OWNER}]


def test_created_in_its_region(bucket: str) -> None:
    ensure_dag_bucket("eu-west-1", bucket, OWNER)
    assert s3().get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"


def test_ensured_again_the_bucket_is_only_read(bucket: str, aws_faults: AwsProxy) -> None:
    ensure_dag_bucket(REGION, bucket, OWNER)
    called = len(aws_faults.actions)
    again = [ensure_dag_bucket(REGION, bucket, OWNER) for _ in range(2)]
    assert [(state.created, state.repaired) for state in again] == [(False, ()), (False, ())]
    writes = [a for a in aws_faults.actions[called:] if a.startswith(("s3:Put", "s3:Create"))]
    assert writes == []
    names = [b["Name"] for b in s3().list_buckets()["Buckets"]]
    assert names.count(bucket) == 1


def test_drifted_settings_are_set_again(bucket: str) -> None:
    ensure_dag_bucket(REGION, bucket, OWNER)
    s3().put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3().delete_bucket_encryption(Bucket=bucket)
    s3().put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={**PRIVATE, "BlockPublicPolicy": False}
    )
    state = ensure_dag_bucket(REGION, bucket, OWNER)
    assert state.repaired == ("publicAccessBlock", "encryption", "versioning")
    assert s3().get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert algorithm(bucket) == "AES256"
    block = s3().get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == PRIVATE


def test_a_kms_key_the_user_chose_is_kept(bucket: str) -> None:
    ensure_dag_bucket(REGION, bucket, OWNER)
    s3().put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    assert ensure_dag_bucket(REGION, bucket, OWNER).repaired == ()
    assert algorithm(bucket) == "aws:kms"


@pytest.mark.parametrize("tags", [[], [{"Key": TAG_KEY, "Value": "other/cluster"}]])
def test_a_bucket_not_ours_is_refused_and_left_alone(bucket: str, tags: list[Any]) -> None:
    s3().create_bucket(Bucket=bucket)
    if tags:
        s3().put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    with pytest.raises(AwsError, match=f"S3 bucket {bucket} exists but") as refused:
        ensure_dag_bucket(REGION, bucket, OWNER)
    assert refused.value.reason == "BucketNotOwned"
    assert ("other/cluster" if tags else f"no {TAG_KEY} tag") in str(refused.value)
    assert "Status" not in s3().get_bucket_versioning(Bucket=bucket)


def test_another_accounts_bucket_is_refused(bucket: str) -> None:
    role = "arn:aws:iam::111111111111:role/elsewhere"
    keys = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="other")["Credentials"]
    other = boto3.client(
        "s3",
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    other.create_bucket(Bucket=bucket)
    with pytest.raises(AwsError, match="FarFlow will not manage it"):
        ensure_dag_bucket(REGION, bucket, OWNER)


def test_forbidden_bucket_reads_as_another_accounts(bucket: str, aws_faults: AwsProxy) -> None:
    aws_faults.faults["s3:HeadBucket"] = Fault("denied")
    with pytest.raises(AwsError, match="belongs to another AWS account") as refused:
        ensure_dag_bucket(REGION, bucket, OWNER)
    assert refused.value.reason == "BucketNotOwned"
    assert not exists(bucket)


def test_access_denied_names_the_iam_action(bucket: str, aws_faults: AwsProxy) -> None:
    aws_faults.faults["s3:PutBucketEncryption"] = Fault("denied")
    with pytest.raises(AwsError) as denied:
        ensure_dag_bucket(REGION, bucket, OWNER)
    assert str(denied.value).startswith(f"s3:PutEncryptionConfiguration {bucket} failed: ")
    assert denied.value.reason == "AccessDenied"
    aws_faults.faults.clear()
    assert ensure_dag_bucket(REGION, bucket, OWNER).repaired == ("encryption", "versioning")


def test_deleting_removes_every_version_then_the_bucket(bucket: str) -> None:
    ensure_dag_bucket(REGION, bucket, OWNER)
    for body in (b"one", b"two"):
        s3().put_object(Bucket=bucket, Key="dags/a.py", Body=body)
    s3().put_object(Bucket=bucket, Key="dags/b.py", Body=b"")
    s3().delete_object(Bucket=bucket, Key="dags/b.py")  # leaves a delete marker
    assert delete_dag_bucket(REGION, bucket, OWNER)
    assert not exists(bucket)
    assert delete_dag_bucket(REGION, bucket, OWNER)  # already gone: done


def test_deleting_leaves_a_bucket_not_ours(bucket: str) -> None:
    s3().create_bucket(Bucket=bucket)
    s3().put_object(Bucket=bucket, Key="keep.txt", Body=b"mine")
    assert delete_dag_bucket(REGION, bucket, OWNER)
    assert s3().get_object(Bucket=bucket, Key="keep.txt")["Body"].read() == b"mine"
