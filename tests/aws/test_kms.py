"""The customer's KMS key on every AWS resource of a cluster (moto), and a key FarFlow may
not use as one condition that names the key and what to grant."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from farflow.aws.facts import gather
from tests.aws.test_render_facts import full_cluster, gathered_until_complete
from tests.fixtures.aws_proxy import AwsProxy, Fault

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]


def new_key() -> str:
    return str(boto3.client("kms").create_key()["KeyMetadata"]["Arn"])


def key_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def with_key(key: str) -> Any:
    return full_cluster({"aws": {"kmsKeyArn": key}})


def test_every_resource_is_encrypted_with_the_customers_key(aws: AwsProxy) -> None:
    key = new_key()
    cluster = with_key(key)
    first = gather(cluster)
    assert first.errors == []
    status = gathered_until_complete(cluster).status
    sqs = boto3.client("sqs")
    for url in status.queue_urls.values():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["KmsMasterKeyId"] == key
    dead_letter = sqs.get_queue_url(QueueName=cluster.aws_names.queues[0].dead_letter)["QueueUrl"]
    assert (
        sqs.get_queue_attributes(QueueUrl=dead_letter, AttributeNames=["KmsMasterKeyId"])[
            "Attributes"
        ]["KmsMasterKeyId"]
        == key
    )
    [group] = boto3.client("logs").describe_log_groups(
        logGroupNamePrefix=cluster.aws_names.log_group
    )["logGroups"]
    assert group["kmsKeyId"] == key
    encryption = boto3.client("s3").get_bucket_encryption(Bucket=status.dag_bucket)
    [rule] = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": key,
    }
    assert cluster.aws_names.rds is not None
    [instance] = boto3.client("rds").describe_db_instances(
        DBInstanceIdentifier=cluster.aws_names.rds.instance
    )["DBInstances"]
    assert instance["KmsKeyId"] == key
    secret = boto3.client("secretsmanager").describe_secret(
        SecretId=cluster.aws_names.database_secret_id
    )
    assert secret["KmsKeyId"] == key


def test_a_disabled_key_makes_nothing_and_says_so(aws: AwsProxy) -> None:
    key = new_key()
    boto3.client("kms").disable_key(KeyId=key_id(key))  # moto 5.2.5 fails on the ARN
    cluster = with_key(key)
    gathered = gather(cluster)
    [aws_ready] = [c for c in gathered.conditions if c.type == "AwsReady"]
    assert (aws_ready.status, aws_ready.reason) == ("False", "KmsKeyUnusable")
    assert aws_ready.message == (
        f"KMS key {key} cannot encrypt the cluster: it is Disabled: enable it, or name another key"
    )
    assert gathered.facts is None
    queues = boto3.client("sqs").list_queues(QueueNamePrefix=cluster.aws_names.queues[0].sqs)
    assert queues.get("QueueUrls", []) == []


def test_a_key_farflow_may_not_use_names_the_key_and_the_grants(aws: AwsProxy) -> None:
    key = new_key()
    aws.faults["kms:DescribeKey"] = Fault("denied")
    [aws_ready] = [c for c in gather(with_key(key)).conditions if c.type == "AwsReady"]
    assert aws_ready.reason == "KmsKeyUnusable"
    assert aws_ready.message.startswith(f"KMS key {key} cannot encrypt the cluster: FarFlow may")
    for grant in ("kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey", "kms:Decrypt"):
        assert grant in aws_ready.message
