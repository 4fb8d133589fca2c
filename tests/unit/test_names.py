"""Every name FarFlow derives, from one resolved cluster: valid where AWS and Kubernetes
limit names, stable, distinct for distinct clusters, and the user's where the spec names it."""

from __future__ import annotations

import re

import pytest

from farflow.api.names import bucket_name, dead_letter_queue_name, instance_identifier
from farflow.api.status import AwsStatus, NamedState
from farflow.aws.cleanup import as_recorded
from tests.unit.planning import cluster

pytestmark = pytest.mark.unit
VALID_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("default", "airflow"), ("team-a", "etl.v2"), ("n" * 63, "x" * 253), ("ns", "UPPER")],
)
def test_default_bucket_names_are_valid_and_stable(namespace: str, name: str) -> None:
    chosen = bucket_name(namespace, name)
    assert VALID_BUCKET.fullmatch(chosen), chosen
    assert chosen == bucket_name(namespace, name)
    assert chosen.startswith("farflow-")


def test_long_bucket_names_stay_distinct() -> None:
    assert bucket_name("ns", "a" * 80 + "1") != bucket_name("ns", "a" * 80 + "2")


def test_dead_letter_queue_names_fit_sqs() -> None:
    long = "q" * 80
    assert dead_letter_queue_name("farflow-ns-a-default") == "farflow-ns-a-default-dlq"
    assert len(dead_letter_queue_name(long)) == 80
    assert dead_letter_queue_name(long).endswith("-dlq")
    assert dead_letter_queue_name(long) != dead_letter_queue_name("q" * 79 + "r")


def test_default_identifiers_are_valid_for_rds() -> None:
    assert instance_identifier("team-a", "demo") == "farflow-team-a-demo"
    dotted = instance_identifier("ns", "my.airflow--x")
    assert dotted == "farflow-ns-my-airflow-x"
    long = instance_identifier("n" * 63, "m" * 63)
    assert len(long) <= 63
    assert "--" not in long
    assert not long.endswith("-")


def test_the_minimal_cluster_is_named_after_its_namespace_and_name() -> None:
    made = cluster({"spec": {"workers": {"queues": ["default", "heavy"]}}})
    names = made.aws_names
    assert made.qualified_name == names.owner == "default/minimal"
    assert [(q.celery, q.sqs, q.dead_letter) for q in names.queues] == [
        ("default", "farflow-default-minimal-default", "farflow-default-minimal-default-dlq"),
        ("heavy", "farflow-default-minimal-heavy", "farflow-default-minimal-heavy-dlq"),
    ]
    assert names.log_group == made.spec.logging.cloudwatch.log_group == "/farflow/default/minimal"
    assert names.admin_secret_id == "airflow/default/minimal/admin"
    assert names.database_secret_id == "airflow/default/minimal/database"
    assert names.fargate_profile == "farflow-default-minimal"
    assert (names.dag_bucket, names.rds, names.ecs) == (None, None, None)  # none in the spec
    assert made.names.admin_secret == "minimal-admin"
    assert made.spec.pods.service_account_name == "minimal-task"
    elsewhere = cluster({"spec": {"pods": {"namespace": "tasks"}}})
    assert elsewhere.spec.pods.service_account_name == "default.minimal-task"
    assert made.database_secret.name == "airflow-db"


def test_names_the_spec_gives_win() -> None:
    made = cluster(
        {
            "spec": {
                "broker": {"sqs": {"queueNamePrefix": "team-"}},
                "dags": {"image": None, "s3": {"bucket": "acme-dags"}},
                "fargate": {"profile": {"name": "airflow"}},
                "database": {
                    "connectionSecretRef": None,
                    "rds": {"instanceIdentifier": "acme-db", "subnetGroupName": "dbs"},
                },
                "ecs": {
                    "cluster": {"name": "tasks"},
                    "subnets": ["subnet-0a1b2c3d4e5f60718"],
                    "executionRoleArn": "arn:aws:iam::123456789012:role/ecs",
                },
            }
        }
    )
    names = made.aws_names
    assert [q.sqs for q in names.queues] == ["team-default"]
    assert names.dag_bucket == "acme-dags"
    assert names.fargate_profile == "airflow"
    assert names.rds is not None
    assert (names.rds.instance, names.rds.subnet_group) == ("acme-db", "acme-db-subnets")
    assert names.ecs is not None
    assert names.ecs.cluster == "tasks"
    assert names.ecs.executor_family == "farflow-default-minimal-executor"
    # FarFlow writes the RDS URL into a Secret of its own.
    assert made.database_secret.name == "minimal-database"


def test_a_created_bucket_without_a_name_gets_the_default() -> None:
    made = cluster({"spec": {"dags": {"image": None, "s3": {"create": True}}}})
    assert made.aws_names.dag_bucket == bucket_name("default", "minimal")


def test_cleanup_removes_what_status_recorded_not_what_the_spec_names_now() -> None:
    made = cluster(
        {
            "metadata": {"uid": "0a1b2c3d-0000"},
            "spec": {
                "database": {
                    "connectionSecretRef": None,
                    "rds": {"subnetGroupName": "dbs", "instanceIdentifier": "now-db"},
                },
            },
        }
    )
    recorded = AwsStatus(
        queue_urls={"default": "https://sqs.eu-west-1.amazonaws.com/1/made-default"},
        log_group_arn="arn:aws:logs:eu-west-1:1:log-group:/made/logs",
        database=NamedState(instance="arn:aws:rds:eu-west-1:1:db:made-db", status="available"),
    )
    names = as_recorded(made, recorded).aws_names
    assert [(q.celery, q.sqs, q.dead_letter) for q in names.queues] == [
        ("default", "made-default", "made-default-dlq")
    ]
    assert names.log_group == "/made/logs"
    assert names.rds is not None
    assert (names.rds.instance, names.rds.final_snapshot) == ("made-db", "made-db-final-0a1b2c3d")
    assert as_recorded(made, None) == made
