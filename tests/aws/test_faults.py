"""Faults from AWS, injected by the proxy in front of moto: throttling and 5xx are retried
through to success; AccessDenied becomes an AwsError naming the action, with no leftovers."""

from __future__ import annotations

import boto3
import pytest

from farflow.api.resolve import ResolvedSqs
from farflow.aws.logs import ensure_log_group
from farflow.aws.session import TAG_KEY, AwsError
from farflow.aws.sqs import ensure_queues
from tests.aws.moto_env import unique
from tests.fixtures.aws import REGION, queue_names
from tests.fixtures.aws_proxy import CALLER, AwsProxy, Fault

pytestmark = pytest.mark.aws
OWNER = "faults/test"


@pytest.mark.parametrize("kind", ["throttle", "server"])
def test_transient_errors_are_retried_through(aws: AwsProxy, kind: str) -> None:
    name = unique("farflow-retried")
    aws.faults["sqs:CreateQueue"] = Fault(kind, times=3)
    urls = ensure_queues(
        ResolvedSqs(visibility_timeout_seconds=3660), queue_names(default=name), REGION, OWNER
    )
    assert urls["default"].endswith(f"/{name}")
    assert aws.actions.count("sqs:CreateQueue") >= 4


def test_access_denied_names_the_action_and_leaves_nothing(aws: AwsProxy) -> None:
    name = unique("farflow-denied")
    aws.faults["sqs:CreateQueue"] = Fault("denied")
    with pytest.raises(AwsError) as denied:
        ensure_queues(
            ResolvedSqs(visibility_timeout_seconds=3660), queue_names(default=name), REGION, OWNER
        )
    assert denied.value.reason == "AccessDeniedException"
    assert str(denied.value).startswith(f"sqs:CreateQueue {name} failed: AccessDeniedException")
    queues = boto3.client("sqs").list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    assert queues == []


def test_access_denied_does_not_show_the_operators_role(aws: AwsProxy) -> None:
    """Status and Events are read by every user of the namespace: AWS's text names the
    caller, the operator's role and session, which the message leaves out."""
    aws.faults["sqs:CreateQueue"] = Fault("denied")
    with pytest.raises(AwsError) as denied:
        ensure_queues(
            ResolvedSqs(visibility_timeout_seconds=3660),
            queue_names(default=unique("farflow-denied")),
            REGION,
            OWNER,
        )
    message = str(denied.value)
    assert CALLER.split("/")[0] not in message
    assert "farflow-operator" not in message
    assert "User: the operator's role is not authorized to perform: sqs:CreateQueue" in message


def test_access_denied_on_a_later_step_is_reported(aws: AwsProxy) -> None:
    group = f"/farflow/{unique('denied')}"
    aws.faults["logs:PutRetentionPolicy"] = Fault("denied")
    with pytest.raises(AwsError, match="AccessDeniedException"):
        ensure_log_group(group, 30, REGION, OWNER)
    aws.faults.clear()
    arn = ensure_log_group(group, 30, REGION, OWNER)  # the next reconcile finishes the job
    assert arn.endswith(f":log-group:{group}")
    [found] = boto3.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert found["retentionInDays"] == 30
    tags = boto3.client("logs").list_tags_for_resource(resourceArn=arn)["tags"]
    assert tags == {TAG_KEY: OWNER}


def test_the_proxy_names_actions_as_iam_does(aws: AwsProxy) -> None:
    bucket = unique("farflow-proxy")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dags/a.py", Body=b"")
    s3.copy_object(
        Bucket=bucket, Key="dags/b.py", CopySource={"Bucket": bucket, "Key": "dags/a.py"}
    )
    s3.list_objects_v2(Bucket=bucket)
    boto3.client("rds").describe_db_instances()
    boto3.client("eks").list_clusters()
    assert aws.actions[-6:] == [
        "s3:CreateBucket",
        "s3:PutObject",
        "s3:CopyObject",
        "s3:ListObjectsV2",
        "rds:DescribeDBInstances",
        "eks:ListClusters",
    ]


def test_the_proxy_records_the_resources_iam_authorizes(aws: AwsProxy) -> None:
    """What docs/iam-*.json are checked against: each call's (action, resource ARN) pairs,
    implicit ones included, by caller."""
    bucket, key = unique("farflow-proxy"), "farflow-recorded"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dags/a.py", Body=b"")
    s3.head_object(Bucket=bucket, Key="dags/a.py")
    ecs = boto3.client("ecs", aws_access_key_id=key, aws_secret_access_key="testing")
    ecs.create_cluster(clusterName="farflow-recorded")
    ecs.describe_tasks(cluster="farflow-recorded", tasks=["0123abcd"])
    ecs.register_task_definition(
        family="farflow-recorded",
        containerDefinitions=[{"name": "task", "image": "example.com/task:1", "memory": 512}],
        executionRoleArn="arn:aws:iam::123456789012:role/farflow/ecs-execution",
    )
    account = "arn:aws:ecs:us-east-1:123456789012"
    assert aws.pairs(principal=key) == {
        ("ecs:CreateCluster", f"{account}:cluster/farflow-recorded"),
        ("ecs:DescribeTasks", f"{account}:task/farflow-recorded/0123abcd"),
        ("ecs:RegisterTaskDefinition", "*"),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/farflow/ecs-execution"),
    }
    assert ("s3:GetObject", f"arn:aws:s3:::{bucket}/dags/a.py") in aws.pairs(principal="testing")
