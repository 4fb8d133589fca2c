"""The broker's queues against moto: one queue (and dead-letter queue) however often ensured,
attributes set in place only when they differ, and deletion of our queues only."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from farflow.api.names import dead_letter_queue_name
from farflow.api.resolve import ResolvedSqs
from farflow.api.spec import DeadLetterQueueSpec
from farflow.aws.session import TAG_KEY, AwsError
from farflow.aws.sqs import delete_queues, ensure_queues
from tests.fixtures.aws import REGION, queue_names
from tests.fixtures.aws_proxy import AwsProxy

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]
OWNER = "sqs/test"
WRITES = ("sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:TagQueue")


@pytest.fixture
def name() -> str:
    return f"farflow-test-{uuid.uuid4().hex[:12]}"


def sqs() -> Any:
    return boto3.client("sqs")


def sqs_spec(visibility_timeout_seconds: int = 3660, **fields: Any) -> ResolvedSqs:
    """broker.sqs as resolve gives it: the visibility timeout always set."""
    return ResolvedSqs(visibility_timeout_seconds=visibility_timeout_seconds, **fields)


def with_dlq(max_receive_count: int = 5, **fields: Any) -> ResolvedSqs:
    dlq = DeadLetterQueueSpec(enabled=True, max_receive_count=max_receive_count)
    return sqs_spec(dead_letter_queue=dlq, **fields)


def attributes(queue: str) -> dict[str, str]:
    url = sqs().get_queue_url(QueueName=queue)["QueueUrl"]
    return dict(sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def tags(queue: str) -> dict[str, str]:
    url = sqs().get_queue_url(QueueName=queue)["QueueUrl"]
    return dict(sqs().list_queue_tags(QueueUrl=url).get("Tags", {}))


def queues(prefix: str) -> list[str]:
    urls = sqs().list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    return sorted(url.rsplit("/", 1)[-1] for url in urls)


def redrive(queue: str) -> dict[str, Any]:
    return dict(json.loads(attributes(queue)["RedrivePolicy"]))


def test_queue_without_dead_letter_queue(name: str) -> None:
    urls = ensure_queues(sqs_spec(600), queue_names(default=name), REGION, OWNER)
    assert urls == {"default": sqs().get_queue_url(QueueName=name)["QueueUrl"]}
    found = attributes(name)
    assert (found["VisibilityTimeout"], found["SqsManagedSseEnabled"]) == ("600", "true")
    assert "RedrivePolicy" not in found
    assert tags(name) == {TAG_KEY: OWNER}
    assert queues(name) == [name]


def test_dead_letter_queue_made_once_however_often_ensured(name: str, aws_faults: AwsProxy) -> None:
    spec = with_dlq(max_receive_count=7)
    ensure_queues(spec, queue_names(default=name), REGION, OWNER)
    called = len(aws_faults.actions)
    urls = [ensure_queues(spec, queue_names(default=name), REGION, OWNER) for _ in range(2)]
    assert [a for a in aws_faults.actions[called:] if a in WRITES] == []
    assert urls[0] == urls[1] == {"default": sqs().get_queue_url(QueueName=name)["QueueUrl"]}
    dlq = dead_letter_queue_name(name)
    assert queues(name) == [name, dlq]
    assert redrive(name) == {
        "deadLetterTargetArn": attributes(dlq)["QueueArn"],
        "maxReceiveCount": 7,
    }
    assert tags(dlq) == {TAG_KEY: OWNER}
    assert attributes(dlq)["SqsManagedSseEnabled"] == "true"
    assert attributes(dlq)["MessageRetentionPeriod"] == str(14 * 86400)


def test_redrive_policy_updated_in_place_and_removed(name: str) -> None:
    ensure_queues(with_dlq(), queue_names(default=name), REGION, OWNER)
    ensure_queues(with_dlq(max_receive_count=2), queue_names(default=name), REGION, OWNER)
    assert redrive(name)["maxReceiveCount"] == 2
    ensure_queues(sqs_spec(), queue_names(default=name), REGION, OWNER)
    assert "RedrivePolicy" not in attributes(name)
    assert queues(name) == [name, dead_letter_queue_name(name)]  # dead letters are kept


def test_changed_visibility_timeout_set_in_place(name: str) -> None:
    ensure_queues(with_dlq(), queue_names(default=name), REGION, OWNER)
    spec = with_dlq(visibility_timeout_seconds=900)
    ensure_queues(spec, queue_names(default=name), REGION, OWNER)
    assert attributes(name)["VisibilityTimeout"] == "900"
    assert "RedrivePolicy" in attributes(name)


def test_existing_queues_are_only_looked_up(name: str, aws_faults: AwsProxy) -> None:
    url = sqs().create_queue(QueueName=name)["QueueUrl"]
    called = len(aws_faults.actions)
    spec = with_dlq(create=False)
    assert ensure_queues(spec, queue_names(default=name), REGION, OWNER) == {"default": url}
    assert aws_faults.actions[called:] == ["sqs:GetQueueUrl"]
    with pytest.raises(AwsError, match=f"sqs:GetQueueUrl {name}-missing failed"):
        ensure_queues(spec, queue_names(default=f"{name}-missing"), REGION, OWNER)


def test_deleting_removes_our_queues_and_dead_letter_queues(name: str) -> None:
    names = queue_names(default=name, high=f"{name}-high")
    ensure_queues(with_dlq(), names, REGION, OWNER)
    assert len(queues(name)) == 4
    assert delete_queues(REGION, names, OWNER)
    assert queues(name) == []
    assert delete_queues(REGION, names, OWNER)  # gone already: done


def test_deleting_leaves_queues_not_ours(name: str) -> None:
    sqs().create_queue(QueueName=name)
    sqs().create_queue(QueueName=dead_letter_queue_name(name), tags={TAG_KEY: "other/cluster"})
    assert delete_queues(REGION, queue_names(default=name), OWNER)
    assert queues(name) == [name, dead_letter_queue_name(name)]


@pytest.mark.parametrize("tags", [{}, {TAG_KEY: "other-team/etl"}], ids=["untagged", "theirs"])
def test_a_queue_not_ours_is_refused_and_left_as_it_is(name: str, tags: dict[str, str]) -> None:
    """queueNamePrefix is free text: a prefix that lands on another team's queue must not
    rewrite its visibility timeout or remove its dead-letter queue."""
    dlq = sqs().create_queue(QueueName=f"{name}-their-dlq")["QueueUrl"]
    dlq_arn = sqs().get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
    their_redrive = json.dumps(
        {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": 3}
    )
    theirs = {"VisibilityTimeout": "43200", "RedrivePolicy": their_redrive}
    sqs().create_queue(QueueName=name, Attributes=theirs, **({"tags": tags} if tags else {}))
    with pytest.raises(AwsError) as refused:
        ensure_queues(sqs_spec(), queue_names(default=name), REGION, OWNER)
    assert refused.value.reason == "QueueNotOwned"
    assert str(refused.value).startswith(f"SQS queue {name} exists but")
    found = attributes(name)
    assert found["VisibilityTimeout"] == "43200"
    assert json.loads(found["RedrivePolicy"])["maxReceiveCount"] == 3
