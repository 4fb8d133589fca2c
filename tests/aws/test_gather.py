"""gather under AWS faults, against moto through the fault proxy: a part that fails keeps
its last known fact, so nothing the plan reads changes; a denied call says so in AwsReady;
a passing fault (throttling that outlasts botocore's retries) changes no condition."""

from __future__ import annotations

import pytest

from farflow.api import parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.api.status import Condition
from farflow.aws.facts import Gathered, gather
from tests.aws.moto_env import unique
from tests.cases import MINIMAL, load, merged
from tests.fixtures.aws_proxy import AwsProxy, Fault

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]


def minimal_cluster() -> ResolvedCluster:
    """The minimal example in a namespace of its own: SQS queues and a log group in AWS."""
    patch = {"metadata": {"namespace": unique("gather")}, "spec": {"aws": {"region": "us-east-1"}}}
    return resolve(parse(merged(load(MINIMAL), patch)))


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
    second = gather(cluster, first.status)
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
    second = gather(cluster, first.status)
    assert second.facts == first.facts
    assert [error.reason for error in second.errors] == ["ThrottlingException"]
    assert second.errors[0].transient
    assert "BrokerReady" not in conditions(second)
    assert "AwsReady" not in conditions(second)
