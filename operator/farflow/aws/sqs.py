"""SQS queues of the Celery broker: created (or looked up) by deterministic name, each with an
optional dead-letter queue. Attributes are read first and written only when they differ."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from farflow.api.names import QueueNames
from farflow.api.resolve import ResolvedSqs
from farflow.aws.session import (
    QUICK,
    TAG_KEY,
    AwsError,
    client,
    error_code,
    failed,
    held,
    tagged_owner,
)

_failed = partial(failed, "sqs")

_NOT_FOUND = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
# Dead letters wait for a human: keep them as long as SQS allows (14 days).
_DLQ_ATTRIBUTES = {"MessageRetentionPeriod": str(14 * 86400)}
_DEMAND = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


def ensure_queues(
    spec: ResolvedSqs,
    queues: Iterable[QueueNames],
    region: str,
    owner: str,
    kms_key: str | None = None,
) -> dict[str, str]:
    """Celery queue -> queue URL; creates missing queues when the spec asks for it, encrypted
    with ``kms_key`` (else SSE-SQS)."""
    sqs = client("sqs", region)
    urls = {}
    encryption = _encryption(kms_key)
    for queue in queues:
        try:
            urls[queue.celery] = (
                _ensured(sqs, spec, queue, owner, encryption)
                if spec.create
                else _url(sqs, queue.sqs)
            )
        except (ClientError, BotoCoreError) as error:
            raise _failed(error, queue.sqs) from error
    return urls


def delete_queues(region: str, queues: Iterable[QueueNames], owner: str) -> bool:
    """Deletes the queues and their dead-letter queues that are tagged ours.

    True once none of ours remains (deletion is immediate); queues not ours are left alone."""
    sqs = client("sqs", region)
    for queue in queues:
        for target in (queue.sqs, queue.dead_letter):
            try:
                _delete_if_ours(sqs, target, owner)
            except (ClientError, BotoCoreError) as error:
                raise _failed(error, target) from error
    return True


def demand(region: str, urls: Iterable[str]) -> tuple[int, int]:
    """The Celery tasks the queues at ``urls`` hold: (waiting, in flight), one call a queue.
    With task_acks_late a message stays in flight until its task has finished."""
    sqs = client("sqs", region, QUICK)
    waiting = in_flight = 0
    for url in urls:
        try:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=_DEMAND)
        except (ClientError, BotoCoreError) as error:
            raise _failed(error, url.rsplit("/", 1)[-1]) from error
        waiting += int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        in_flight += int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])
    return waiting, in_flight


def _url(sqs: Any, sqs_name: str) -> str:
    return str(sqs.get_queue_url(QueueName=sqs_name)["QueueUrl"])


def _existing_url(sqs: Any, sqs_name: str) -> str | None:
    try:
        return _url(sqs, sqs_name)
    except ClientError as error:
        if error_code(error) not in _NOT_FOUND:
            raise
        return None


def _encryption(kms_key: str | None) -> dict[str, str]:
    """SSE with the customer's key, or SQS's own (they exclude each other)."""
    if kms_key is None:
        return {"SqsManagedSseEnabled": "true"}
    return {"SqsManagedSseEnabled": "false", "KmsMasterKeyId": kms_key}


def _ensured(
    sqs: Any, spec: ResolvedSqs, queue: QueueNames, owner: str, encryption: dict[str, str]
) -> str:
    """The main queue, pointing at its dead-letter queue when enabled (and at none otherwise)."""
    redrive = ""
    if spec.dead_letter_queue.enabled:
        dlq_url = _queue(sqs, queue.dead_letter, {**_DLQ_ATTRIBUTES, **encryption}, owner)
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
        redrive = json.dumps(
            {
                "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
                "maxReceiveCount": spec.dead_letter_queue.max_receive_count,
            }
        )
    attributes = {
        "VisibilityTimeout": str(spec.visibility_timeout_seconds),
        **encryption,
        "RedrivePolicy": redrive,  # "" removes it
    }
    return _queue(sqs, queue.sqs, attributes, owner)


def _queue(sqs: Any, sqs_name: str, attributes: dict[str, str], owner: str) -> str:
    """The queue's URL; created with attributes if missing, else (when it is ours) only the
    differing ones set."""
    url = _existing_url(sqs, sqs_name)
    if url is None:
        given = {key: value for key, value in attributes.items() if value and value != "false"}
        response = sqs.create_queue(QueueName=sqs_name, Attributes=given, tags={TAG_KEY: owner})
        return str(response["QueueUrl"])
    _check_owner(sqs, url, sqs_name, owner)
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    changed = {
        key: value
        for key, value in attributes.items()
        if _normal(key, found.get(key, "")) != _normal(key, value)
    }
    if changed:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=changed)
    return url


def _normal(key: str, value: str) -> Any:
    """An attribute in a comparable form: SQS may reformat a redrive policy's JSON."""
    if key != "RedrivePolicy" or not value:
        return value
    policy = json.loads(value)
    return policy.get("deadLetterTargetArn"), int(policy.get("maxReceiveCount", 0))


def _owner(sqs: Any, url: str) -> str | None:
    return tagged_owner(sqs.list_queue_tags(QueueUrl=url).get("Tags", {}))


def _check_owner(sqs: Any, url: str, sqs_name: str, owner: str) -> None:
    found = _owner(sqs, url)
    if found != owner:
        raise AwsError(
            "QueueNotOwned",
            f"SQS queue {sqs_name} exists but {held(found)}, not {owner}, so FarFlow will not "
            "change its attributes; choose another broker.sqs.queueNamePrefix, or set "
            "broker.sqs.create: false to use the queues as they are",
        )


def _delete_if_ours(sqs: Any, sqs_name: str, owner: str) -> None:
    url = _existing_url(sqs, sqs_name)
    if url is None:
        return
    try:
        if _owner(sqs, url) == owner:
            sqs.delete_queue(QueueUrl=url)
    except ClientError as error:
        if error_code(error) not in _NOT_FOUND:
            raise
