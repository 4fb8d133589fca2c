"""SQS queues of the Celery broker: created (or looked up) by deterministic name."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from farflow.api.spec import SqsSpec
from farflow.aws.session import TAG_KEY, client, explain, resource_name

_EXISTS_WITH_OTHER_ATTRIBUTES = {"QueueAlreadyExists", "QueueNameExists"}


def queue_names(spec: SqsSpec, queues: list[str], namespace: str, name: str) -> dict[str, str]:
    """Celery queue -> SQS queue name."""
    if spec.queue_name_prefix:
        return {queue: f"{spec.queue_name_prefix}{queue}" for queue in queues}
    return {queue: resource_name(namespace, name, f"-{queue}") for queue in queues}


def ensure_queues(spec: SqsSpec, names: dict[str, str], region: str, owner: str) -> dict[str, str]:
    """Celery queue -> queue URL; creates missing queues when the spec asks for it."""
    sqs = client("sqs", region)
    urls = {}
    for queue, sqs_name in names.items():
        action = f"sqs:CreateQueue {sqs_name}" if spec.create else f"sqs:GetQueueUrl {sqs_name}"
        try:
            urls[queue] = (
                _created(sqs, spec, sqs_name, owner) if spec.create else _url(sqs, sqs_name)
            )
        except (ClientError, BotoCoreError) as error:
            raise explain(error, action) from error
    return urls


def _url(sqs: Any, sqs_name: str) -> str:
    return str(sqs.get_queue_url(QueueName=sqs_name)["QueueUrl"])


def _created(sqs: Any, spec: SqsSpec, sqs_name: str, owner: str) -> str:
    """Creating with identical attributes is a no-op; changed attributes are set in place."""
    attributes = {
        "VisibilityTimeout": str(spec.visibility_timeout_seconds),
        "SqsManagedSseEnabled": "true",
    }
    try:
        response = sqs.create_queue(
            QueueName=sqs_name, Attributes=attributes, tags={TAG_KEY: owner}
        )
        return str(response["QueueUrl"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _EXISTS_WITH_OTHER_ATTRIBUTES:
            raise
    url = _url(sqs, sqs_name)
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url
