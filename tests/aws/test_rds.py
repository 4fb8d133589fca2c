"""The RDS PostgreSQL instance (moto): its password stored first, one instance and subnet
group however often it is ensured, adoption without changes, and each deletion policy."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from farflow.api.names import rds_names
from farflow.api.spec import RdsSpec
from farflow.aws.rds import (
    DatabaseState,
    connection_url,
    delete_database,
    ensure_database,
)
from farflow.aws.secrets import read_secret
from farflow.aws.session import TAG_KEY, AwsError
from tests.aws.moto_env import OWNER, unique
from tests.fixtures.aws import REGION
from tests.fixtures.aws_proxy import AwsProxy, Fault

pytestmark = pytest.mark.aws
TAGS = [{"Key": TAG_KEY, "Value": OWNER}]


@pytest.fixture
def subnets(aws: AwsProxy) -> list[str]:
    """Two subnets of a new VPC in two availability zones."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]


@pytest.fixture
def names() -> tuple[str, str]:
    """An instance identifier and the secret id of its password."""
    identifier = unique("farflow-db")
    return identifier, f"airflow/{identifier}/cluster/database"


def instances(identifier: str) -> list[dict[str, Any]]:
    rds = boto3.client("rds")
    found = rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [identifier]}])
    return list(found["DBInstances"])


def subnet_groups(identifier: str) -> list[str]:
    groups = boto3.client("rds").describe_db_subnet_groups()["DBSubnetGroups"]
    return [g["DBSubnetGroupName"] for g in groups if g["DBSubnetGroupName"].startswith(identifier)]


def snapshots(identifier: str) -> list[str]:
    rds = boto3.client("rds")
    found = rds.describe_db_snapshots(DBInstanceIdentifier=identifier, SnapshotType="manual")
    return [snapshot["DBSnapshotIdentifier"] for snapshot in found["DBSnapshots"]]


def deleted(spec: RdsSpec, identifier: str, secret: str, uid: str = "") -> int:
    """Calls delete_database until it reports done; the number of calls it took."""
    for calls in range(1, 6):
        if delete_database(REGION, spec, rds_names(identifier, uid), OWNER, secret):
            return calls
    raise AssertionError("cleanup did not finish in 5 calls")


def test_created_once_with_its_password_stored(subnets: list[str], names: tuple[str, str]) -> None:
    identifier, secret = names
    spec = RdsSpec(subnet_ids=subnets, multi_az=True, engine_version="16")
    states = [ensure_database(REGION, spec, rds_names(identifier), OWNER, secret) for _ in range(3)]
    assert len(set(states)) == 1
    state = states[0]
    [instance] = instances(identifier)
    assert state == DatabaseState(
        identifier=identifier,
        arn=instance["DBInstanceArn"],
        status="available",  # moto's instances are available at once
        host=instance["Endpoint"]["Address"],
        port=5432,
        username="airflow",
        database="airflow",
        secret_id=secret,
    )
    assert state.ready
    assert subnet_groups(identifier) == [f"{identifier}-subnets"]
    expected = {
        "Engine": "postgres",
        "EngineVersion": "16",
        "DBInstanceClass": "db.t4g.medium",
        "AllocatedStorage": 20,
        "MultiAZ": True,
        "StorageEncrypted": True,
        "PubliclyAccessible": False,
        "CopyTagsToSnapshot": True,
        "DBName": "airflow",
        "MasterUsername": "airflow",
        "TagList": TAGS,
    }
    assert {key: instance[key] for key in expected} == expected
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == f"{identifier}-subnets"
    password = read_secret(REGION, secret)
    assert password is not None
    assert password.secret_id == state.secret_id
    assert password.value not in repr(state)


def test_the_password_is_stored_before_the_instance_and_reused(
    aws: AwsProxy, subnets: list[str], names: tuple[str, str]
) -> None:
    identifier, secret = names
    spec = RdsSpec(subnet_ids=subnets)
    aws.faults["rds:CreateDBInstance"] = Fault("denied")
    with pytest.raises(AwsError) as denied:
        ensure_database(REGION, spec, rds_names(identifier), OWNER, secret)
    assert str(denied.value).startswith(f"rds:CreateDBInstance {identifier} failed: AccessDenied")
    stored = read_secret(REGION, secret)
    assert stored is not None
    assert stored.value not in str(denied.value)
    aws.faults.clear()
    state = ensure_database(REGION, spec, rds_names(identifier), OWNER, secret)
    assert state.secret_id == stored.secret_id
    assert read_secret(REGION, secret) == stored
    assert len(instances(identifier)) == 1


def test_an_existing_user_subnet_group_is_used_and_kept(
    subnets: list[str], names: tuple[str, str]
) -> None:
    identifier, secret = names
    group = unique("user-group")
    boto3.client("rds").create_db_subnet_group(
        DBSubnetGroupName=group, DBSubnetGroupDescription="theirs", SubnetIds=subnets
    )
    spec = RdsSpec(subnet_group_name=group, deletion_policy="Delete")
    ensure_database(REGION, spec, rds_names(identifier), OWNER, secret)
    [instance] = instances(identifier)
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == group
    assert subnet_groups(identifier) == []
    deleted(spec, identifier, secret)
    assert boto3.client("rds").describe_db_subnet_groups(DBSubnetGroupName=group)


@pytest.mark.parametrize(
    ("policy", "calls", "left"),
    [
        ("Snapshot", 2, {"final snapshot"}),  # the first call only starts the deletion
        ("Delete", 2, set()),
        ("Retain", 1, {"instance", "subnet group", "password"}),
    ],
)
def test_deletion_policies(
    subnets: list[str], names: tuple[str, str], policy: str, calls: int, left: set[str]
) -> None:
    identifier, secret = names
    spec = RdsSpec(subnet_ids=subnets, deletion_policy=policy)
    ensure_database(REGION, spec, rds_names(identifier), OWNER, secret)
    assert deleted(spec, identifier, secret) == calls
    found = {
        "instance": bool(instances(identifier)),
        "final snapshot": snapshots(identifier) == [f"{identifier}-final"],
        "subnet group": bool(subnet_groups(identifier)),
        "password": read_secret(REGION, secret) is not None,
    }
    assert {what for what, there in found.items() if there} == left
    if "final snapshot" in left:
        snapshot = boto3.client("rds").describe_db_snapshots(
            DBSnapshotIdentifier=f"{identifier}-final"
        )
        assert snapshot["DBSnapshots"][0]["TagList"] == TAGS


def test_adoption_describes_and_never_deletes(subnets: list[str], names: tuple[str, str]) -> None:
    identifier, secret = names
    boto3.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="owner",
        MasterUserPassword="their-password",
        DBName="meta",
    )
    spec = RdsSpec(create=False, deletion_policy="Delete")
    state = ensure_database(REGION, spec, rds_names(identifier), OWNER, secret)
    assert (state.status, state.username, state.database, state.port) == (
        "available",
        "owner",
        "meta",
        5432,
    )
    assert state.host
    assert state.secret_id is None  # no password source: RDS does not manage this one's
    assert read_secret(REGION, secret) is None
    assert deleted(spec, identifier, secret) == 1
    assert len(instances(identifier)) == 1
    created = RdsSpec(subnet_ids=subnets)
    with pytest.raises(AwsError, match=r"not tagged farflow\.io/cluster") as not_ours:
        ensure_database(REGION, created, rds_names(identifier), OWNER, secret)
    assert not_ours.value.reason == "DatabaseNotOwned"


def test_adopting_a_missing_instance_is_an_error(aws: AwsProxy, names: tuple[str, str]) -> None:
    identifier, secret = names
    with pytest.raises(AwsError, match=f"RDS instance {identifier} does not exist") as missing:
        ensure_database(REGION, RdsSpec(create=False), rds_names(identifier), OWNER, secret)
    assert missing.value.reason == "DatabaseNotFound"


def test_a_lost_password_secret_is_reported_not_regenerated(
    subnets: list[str], names: tuple[str, str]
) -> None:
    identifier, secret = names
    spec = RdsSpec(subnet_ids=subnets)
    ensure_database(REGION, spec, rds_names(identifier), OWNER, secret)
    boto3.client("secretsmanager").delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)
    with pytest.raises(AwsError, match=f"secret {secret} with the master password") as lost:
        ensure_database(REGION, spec, rds_names(identifier), OWNER, secret)
    assert lost.value.reason == "DatabasePasswordMissing"
    assert read_secret(REGION, secret) is None


def test_a_missing_subnet_group_names_the_action(aws: AwsProxy, names: tuple[str, str]) -> None:
    identifier, secret = names
    spec = RdsSpec(subnet_group_name=unique("no-such-group"))
    with pytest.raises(AwsError) as missing:
        ensure_database(REGION, spec, rds_names(identifier), OWNER, secret)
    assert missing.value.reason == "DBSubnetGroupNotFoundFault"
    assert str(missing.value).startswith(f"rds:CreateDBInstance {identifier} failed:")
    assert instances(identifier) == []


def test_unknown_subnets_name_the_action(aws: AwsProxy, names: tuple[str, str]) -> None:
    identifier, secret = names
    spec = RdsSpec(subnet_ids=["subnet-0123456789abcdef0"])
    with pytest.raises(AwsError, match=f"^rds:CreateDBSubnetGroup {identifier} failed: Invalid"):
        ensure_database(REGION, spec, rds_names(identifier), OWNER, secret)
    assert instances(identifier) == []


def test_the_connection_url_quotes_the_password() -> None:
    state = DatabaseState(
        identifier="db",
        arn="arn:aws:rds:us-east-1:123456789012:db:db",
        status="available",
        host="db.example.rds.amazonaws.com",
        port=5432,
        username="airflow",
        database="airflow",
        secret_id=None,
    )
    assert connection_url(state, "p@ss/w:rd%") == (
        "postgresql+psycopg2://airflow:p%40ss%2Fw%3Ard%25@db.example.rds.amazonaws.com:5432/airflow"
    )


def test_a_cluster_made_again_and_deleted_again_takes_its_own_snapshot(
    subnets: list[str], names: tuple[str, str]
) -> None:
    """Each AirflowCluster object's final snapshot carries its uid: the second deletion of
    a same-named cluster does not fail on the first one's snapshot (H7)."""
    identifier, secret = names
    spec = RdsSpec(subnet_ids=subnets)
    for uid in ("11111111-aaaa", "22222222-bbbb"):
        ensure_database(REGION, spec, rds_names(identifier, uid), OWNER, secret)
        deleted(spec, identifier, secret, uid)
    assert sorted(snapshots(identifier)) == [
        f"{identifier}-final-11111111",
        f"{identifier}-final-22222222",
    ]


def test_a_final_snapshot_taken_by_an_earlier_pass_is_adopted(
    subnets: list[str], names: tuple[str, str]
) -> None:
    identifier, secret = names
    spec = RdsSpec(subnet_ids=subnets)
    ensure_database(REGION, spec, rds_names(identifier, "33333333"), OWNER, secret)
    boto3.client("rds").create_db_snapshot(
        DBInstanceIdentifier=identifier,
        DBSnapshotIdentifier=f"{identifier}-final-33333333",
        Tags=TAGS,
    )  # as if the delete call had gone through and its answer was lost
    deleted(spec, identifier, secret, "33333333")
    assert instances(identifier) == []
    assert snapshots(identifier) == [f"{identifier}-final-33333333"]


def test_a_final_snapshot_not_ours_is_refused(subnets: list[str], names: tuple[str, str]) -> None:
    identifier, secret = names
    spec = RdsSpec(subnet_ids=subnets)
    ensure_database(REGION, spec, rds_names(identifier, "44444444"), OWNER, secret)
    rds = boto3.client("rds")
    other = f"{identifier}-other"
    rds.create_db_instance(
        DBInstanceIdentifier=other,
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="owner",
        MasterUserPassword="their-password",
    )
    rds.create_db_snapshot(
        DBInstanceIdentifier=other, DBSnapshotIdentifier=f"{identifier}-final-44444444"
    )  # another instance's snapshot under the name
    with pytest.raises(AwsError, match="is not its own") as refused:
        deleted(spec, identifier, secret, "44444444")
    assert refused.value.reason == "FinalSnapshotNotOwned"
    assert instances(identifier) != []


def test_a_changed_spec_is_applied_to_the_instance(
    subnets: list[str], names: tuple[str, str]
) -> None:
    identifier, secret = names
    ensure_database(REGION, RdsSpec(subnet_ids=subnets), rds_names(identifier), OWNER, secret)
    changed = RdsSpec(
        subnet_ids=subnets,
        instance_class="db.m7g.large",
        allocated_storage=50,
        multi_az=True,
        apply_immediately=True,
    )
    state = ensure_database(REGION, changed, rds_names(identifier), OWNER, secret)
    assert state.changes == ("instanceClass", "allocatedStorage", "multiAZ")
    [instance] = instances(identifier)
    assert (instance["DBInstanceClass"], instance["AllocatedStorage"], instance["MultiAZ"]) == (
        "db.m7g.large",
        50,
        True,
    )
    again = ensure_database(REGION, changed, rds_names(identifier), OWNER, secret)
    assert again.changes == ()


def test_storage_that_would_shrink_is_refused_with_the_reason(
    subnets: list[str], names: tuple[str, str]
) -> None:
    identifier, secret = names
    spec = RdsSpec(subnet_ids=subnets, allocated_storage=100)
    ensure_database(REGION, spec, rds_names(identifier), OWNER, secret)
    smaller = RdsSpec(subnet_ids=subnets, allocated_storage=50)
    with pytest.raises(AwsError, match="can grow, never shrink") as refused:
        ensure_database(REGION, smaller, rds_names(identifier), OWNER, secret)
    assert refused.value.reason == "StorageCannotShrink"
    assert instances(identifier)[0]["AllocatedStorage"] == 100


def test_an_adopted_instance_reads_its_password_from_the_secret_given(
    aws: AwsProxy, names: tuple[str, str]
) -> None:
    identifier, secret = names
    boto3.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="owner",
        MasterUserPassword="their-password",
    )
    adopted = RdsSpec(create=False, master_password_secret=secret)
    state = ensure_database(REGION, adopted, rds_names(identifier), OWNER, "unused")
    assert state.secret_id == secret
    assert state.changes == ()  # FarFlow never modifies an instance it did not make
