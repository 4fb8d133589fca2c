"""gather under AWS faults, against moto through the fault proxy: a part that fails keeps
its last known fact, so nothing the plan reads changes; a denied call says so in AwsReady;
a passing fault (throttling that outlasts botocore's retries) changes no condition."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from cryptography.fernet import Fernet

from farflow.api import parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.api.status import Condition
from farflow.aws.facts import Gathered, Known, gather
from farflow.aws.secrets import read_secret
from tests.aws.moto_env import unique
from tests.cases import MINIMAL, load, merged
from tests.fixtures.aws_proxy import AwsProxy, Fault

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]


def _in_own_namespace() -> dict[str, Any]:
    return {"metadata": {"namespace": unique("gather")}, "spec": {"aws": {"region": "us-east-1"}}}


def minimal_cluster() -> ResolvedCluster:
    """The minimal example in a namespace of its own: SQS queues and a log group in AWS."""
    return resolve(parse(merged(load(MINIMAL), _in_own_namespace())))


def conditions(gathered: Gathered) -> dict[str, Condition]:
    return {condition.type: condition for condition in gathered.conditions}


def test_a_clean_pass_reports_every_part() -> None:
    gathered = gather(minimal_cluster())
    assert gathered.errors == []
    assert gathered.facts is not None
    assert gathered.facts.log_group_arn is not None
    assert {kind: c.status for kind, c in conditions(gathered).items()} == {
        "BrokerReady": "True",
        "FargateProfileReady": "True",
        "AwsReady": "True",
    }


def test_a_denied_part_keeps_its_last_known_fact(aws: AwsProxy) -> None:
    cluster = minimal_cluster()
    first = gather(cluster)
    aws.faults["logs:DescribeLogGroups"] = Fault("denied")
    second = gather(cluster, Known(first.status, first.mirrored[cluster.names.secrets]))
    assert second.facts == first.facts  # the same settings: no pod rolls
    assert second.status == first.status
    aws_ready = conditions(second)["AwsReady"]
    assert (aws_ready.status, aws_ready.reason) == ("False", "AccessDeniedException")
    assert "logs:DescribeLogGroups" in aws_ready.message


def test_without_a_last_known_fact_a_failed_part_holds_the_plan(aws: AwsProxy) -> None:
    aws.faults["sqs:GetQueueUrl"] = Fault("denied")
    gathered = gather(minimal_cluster())
    assert gathered.facts is None
    broker = conditions(gathered)["BrokerReady"]
    assert (broker.status, broker.reason) == ("False", "QueuesUnavailable")


def test_a_passing_fault_changes_no_condition(aws: AwsProxy) -> None:
    cluster = minimal_cluster()
    first = gather(cluster)
    aws.faults["sqs:GetQueueUrl"] = Fault("throttle")  # outlasts every retry
    second = gather(cluster, Known(first.status, first.mirrored[cluster.names.secrets]))
    assert second.facts == first.facts
    assert [error.reason for error in second.errors] == ["ThrottlingException"]
    assert second.errors[0].transient
    assert "BrokerReady" not in conditions(second)
    assert "AwsReady" not in conditions(second)


def test_an_unpinned_object_holds_the_plan_until_it_is_pinned_and_its_pin_is_kept(
    aws: AwsProxy,
) -> None:
    """No pods while the startup script cannot be read; once uploaded, its ETag is in the
    facts and status, and a later pass whose HeadObject fails keeps it: nothing rolls."""
    bucket = unique("farflow-assets")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    script = {"bucket": bucket, "key": "startup.sh"}
    patch = {"spec": {"airflow": {"startupScript": script}}}
    cluster = resolve(parse(merged(load(MINIMAL), merged(_in_own_namespace(), patch))))
    held = gather(cluster)
    assert held.facts is None
    aws_ready = conditions(held)["AwsReady"]
    assert (aws_ready.status, aws_ready.reason) == ("False", "BootstrapObjectMissing")
    etag = s3.put_object(Bucket=bucket, Key="startup.sh", Body=b"export A=1\n")["ETag"]
    first = gather(cluster)
    assert first.facts is not None
    pins = {f"s3://{bucket}/startup.sh": {"etag": etag}}
    assert first.facts.bootstrap_pins == first.status.bootstrap_objects == pins
    aws.faults["s3:HeadObject"] = Fault("denied")
    second = gather(cluster, Known(first.status, first.mirrored[cluster.names.secrets]))
    assert second.facts == first.facts
    assert "s3:GetObject" in conditions(second)["AwsReady"].message


def test_the_shared_keys_are_made_once_and_kept_in_secrets_manager() -> None:
    cluster = minimal_cluster()
    first = gather(cluster).mirrored[cluster.names.secrets]
    assert set(first) == {"fernet-key", "jwt-secret", "api-secret-key"}
    again = gather(cluster).mirrored[cluster.names.secrets]  # the Kubernetes Secret is gone
    assert again == first
    stored = read_secret("us-east-1", cluster.aws_names.keys_secret_id)
    assert stored is not None
    assert json.loads(stored.value) == first


def test_keys_a_cluster_already_has_are_kept_not_replaced() -> None:
    cluster = minimal_cluster()
    kept = {"fernet-key": Fernet.generate_key().decode(), "jwt-secret": "j", "api-secret-key": "a"}
    gathered = gather(cluster, Known(shared_keys=kept, migrated=True))
    assert gathered.mirrored[cluster.names.secrets] == kept
    stored = read_secret("us-east-1", cluster.aws_names.keys_secret_id)
    assert stored is not None
    assert json.loads(stored.value) == kept


def test_lost_keys_of_a_migrated_database_are_never_made_anew() -> None:
    cluster = minimal_cluster()
    gathered = gather(cluster, Known(migrated=True))
    assert gathered.facts is None  # nothing rolls with keys the database does not know
    assert cluster.names.secrets not in gathered.mirrored
    database = conditions(gathered)["DatabaseReady"]
    assert (database.status, database.reason) == ("False", "SharedKeysLost")
    assert cluster.aws_names.keys_secret_id in database.message
    assert read_secret("us-east-1", cluster.aws_names.keys_secret_id) is None


def adopted_cluster(namespace: str, master_password_secret: str | None) -> ResolvedCluster:
    """The minimal example on an RDS instance someone else made (moto's: available)."""
    identifier = unique("shared-db")
    boto3.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="owner",
        MasterUserPassword="their-password",
    )
    rds: dict[str, Any] = {"create": False, "instanceIdentifier": identifier}
    if master_password_secret:
        rds["masterPasswordSecret"] = master_password_secret
    patch = {
        "metadata": {"namespace": namespace},
        "spec": {
            "aws": {"region": "us-east-1"},
            "database": {"connectionSecretRef": None, "rds": rds},
        },
    }
    return resolve(parse(merged(load(MINIMAL), patch)))


def password_secret(name: str) -> str:
    boto3.client("secretsmanager").create_secret(Name=name, SecretString="their-password")
    return name


def test_an_adopted_instance_with_its_password_becomes_ready() -> None:
    namespace = unique("adopt")
    cluster = adopted_cluster(namespace, password_secret(f"airflow/{namespace}/shared-db"))
    gathered = gather(cluster)
    database = conditions(gathered)["DatabaseReady"]
    assert (database.status, database.reason) == ("True", "Available")
    assert gathered.facts is not None
    [url] = gathered.mirrored[cluster.database_secret.name].values()
    assert url.startswith("postgresql+psycopg2://owner:their-password@")


@pytest.mark.parametrize("by_arn", [False, True], ids=["name", "arn"])
def test_a_password_secret_of_another_namespace_is_never_read(by_arn: bool) -> None:
    """One team cannot have the operator copy another team's password into its namespace."""
    other = unique("other-team")
    secret = password_secret(f"airflow/{other}/shared-db")
    if by_arn:
        secret = boto3.client("secretsmanager").describe_secret(SecretId=secret)["ARN"]
    cluster = adopted_cluster(unique("adopt"), secret)
    gathered = gather(cluster)
    database = conditions(gathered)["DatabaseReady"]
    assert (database.status, database.reason) == ("False", "PasswordSecretNotInNamespace")
    assert f"airflow/{cluster.namespace}/" in database.message
    assert cluster.database_secret.name not in gathered.mirrored


def test_an_adopted_instance_without_a_password_says_what_to_set() -> None:
    gathered = gather(adopted_cluster(unique("adopt"), None))
    database = conditions(gathered)["DatabaseReady"]
    assert (database.status, database.reason) == ("False", "AdoptionNeedsPassword")
    assert "masterPasswordSecret" in database.message
    assert not gathered.provisioning  # waiting would not help
