"""The cluster's log group against moto: deleted when it is ours, left alone otherwise."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from farflow.aws.logs import delete_log_group, ensure_log_group
from farflow.aws.session import TAG_KEY, AwsError
from tests.fixtures.aws import REGION
from tests.fixtures.aws_proxy import AwsProxy, Fault

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]
OWNER = "logs/test"


@pytest.fixture
def group() -> str:
    return f"/farflow/test-{uuid.uuid4().hex[:12]}"


def groups(prefix: str) -> list[dict[str, Any]]:
    found = boto3.client("logs").describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
    return list(found)


def test_ensured_once_however_often_called(group: str) -> None:
    arns = {ensure_log_group(group, 14, REGION, OWNER) for _ in range(3)}
    [found] = groups(group)
    assert arns == {found["arn"].removesuffix(":*")}
    assert found["retentionInDays"] == 14
    tags = boto3.client("logs").list_tags_for_resource(resourceArn=arns.pop())["tags"]
    assert tags == {TAG_KEY: OWNER}


def test_deleting_our_group(group: str) -> None:
    ensure_log_group(group, 30, REGION, OWNER)
    assert delete_log_group(REGION, group, OWNER)
    assert groups(group) == []
    assert delete_log_group(REGION, group, OWNER)  # gone already: done


def test_deleting_leaves_a_group_not_ours(group: str) -> None:
    boto3.client("logs").create_log_group(logGroupName=group, tags={TAG_KEY: "other/cluster"})
    boto3.client("logs").create_log_group(logGroupName=f"{group}-untagged")
    assert delete_log_group(REGION, group, OWNER)
    assert delete_log_group(REGION, f"{group}-untagged", OWNER)
    assert [found["logGroupName"] for found in groups(group)] == [group, f"{group}-untagged"]


def test_denied_deletion_names_the_action(group: str, aws_faults: AwsProxy) -> None:
    ensure_log_group(group, 30, REGION, OWNER)
    aws_faults.faults["logs:DeleteLogGroup"] = Fault("denied")
    with pytest.raises(AwsError) as denied:
        delete_log_group(REGION, group, OWNER)
    assert str(denied.value).startswith(f"logs:DeleteLogGroup {group} failed: AccessDenied")
    assert len(groups(group)) == 1


@pytest.mark.parametrize("tags", [{}, {TAG_KEY: "other-team/audit"}], ids=["untagged", "theirs"])
def test_a_group_not_ours_is_refused_and_left_as_it_is(group: str, tags: dict[str, str]) -> None:
    """An AirflowCluster author cannot make the operator cut another group's retention."""
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=group, **({"tags": tags} if tags else {}))
    logs.put_retention_policy(logGroupName=group, retentionInDays=3653)
    with pytest.raises(AwsError) as refused:
        ensure_log_group(group, 1, REGION, OWNER)
    assert refused.value.reason == "LogGroupNotOwned"
    assert f"log group {group} exists but" in str(refused.value)
    [found] = groups(group)
    assert found["retentionInDays"] == 3653
