"""boto3 clients with retries for throttling and 5xx errors, and the errors users can act on."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Standard retries cover throttling and 5xx; the app id marks FarFlow's calls in CloudTrail.
RETRIES = Config(
    retries={"mode": "standard", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=30,
    user_agent_appid="farflow",
)
# The autoscaler looks every few seconds: it gives up sooner and tries again at its next look.
QUICK = RETRIES.merge(
    Config(
        retries={"mode": "standard", "max_attempts": 2},
        read_timeout=5,
        user_agent_appid="farflow-autoscaler",
    )
)
TAG_KEY = "farflow.io/cluster"
# API operations whose IAM action has another name, so that errors name what to grant (and
# docs/iam-policy.json is checked against the actions, not the operations).
IAM_ACTIONS = {
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjects": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:DeleteObjects": "s3:DeleteObjectVersion",  # FarFlow deletes versions by id
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
}


# Error codes of faults that pass by themselves, still there after botocore's retries.
TRANSIENT = frozenset(
    {
        "AwsUnreachable",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "RequestLimitExceeded",
        "RequestThrottled",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "500",
        "502",
        "503",
        "504",
    }
)

# An IAM or STS principal (the operator's role, its session) in AWS's own error text.
_PRINCIPAL = re.compile(r"arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[^\s,;]+")


class AwsError(Exception):
    """An AWS call that failed: ``transient`` when it passes by itself (throttling, 5xx,
    no connection), else only a change (of spec or of IAM) fixes it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def transient(self) -> bool:
        return self.reason in TRANSIENT


_clients: dict[tuple[str, ...], Any] = {}
_clients_lock = threading.Lock()
_CLIENT_ENVIRONMENT = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_PROFILE")


def client(service: str, region: str, config: Config = RETRIES) -> Any:
    """A shared client of ``service`` in ``region``. Clients are thread-safe but boto3's
    sessions are not, so clients are made once each, under a lock, from a session of their
    own; the key follows the environment, which tests point at moto."""
    environment = (os.environ.get(name, "") for name in _CLIENT_ENVIRONMENT)
    key = (service, region, config.user_agent_appid or "", *environment)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = boto3.session.Session().client(
                service, region_name=region, config=config
            )
        return _clients[key]


def endpoint_url(service: str, region: str) -> str:
    """Where the service's client sends requests (honouring AWS_ENDPOINT_URL); builds a
    client but calls nothing."""
    return str(boto3.client(service, region_name=region).meta.endpoint_url).rstrip("/")


def default_region() -> str | None:
    """The operator's own region (AWS_REGION / AWS_DEFAULT_REGION / its profile)."""
    region: str | None = os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    return region


def tagged_owner(tags: Mapping[str, str] | Iterable[Mapping[str, str]]) -> str | None:
    """The value of the farflow.io/cluster tag, in each of AWS's shapes of tags: a mapping
    (SQS, EKS, CloudWatch Logs), or a list of Key/Value (RDS, S3, Secrets Manager) or of
    key/value (ECS) entries."""
    if isinstance(tags, Mapping):
        return tags.get(TAG_KEY)
    for tag in tags:
        if tag.get("Key", tag.get("key")) == TAG_KEY:
            return tag.get("Value", tag.get("value"))
    return None


def held(found: str | None) -> str:
    """How a resource not ours is tagged, for the message refusing it."""
    return f"is tagged {TAG_KEY}={found}" if found else f"has no {TAG_KEY} tag"


def explain(error: ClientError | BotoCoreError, action: str) -> AwsError:
    """An AwsError naming the failed action and what AWS said, for a status condition."""
    if isinstance(error, ClientError):
        code = error_code(error) or "Unknown"
        text = redacted(error.response.get("Error", {}).get("Message", ""))
        return AwsError(code, f"{action} failed: {code}: {text}")
    return AwsError("AwsUnreachable", f"{action} failed: {error}")


def redacted(text: str) -> str:
    """AWS's message without the principal that made the call: status and Events are read by
    every user of the namespace, and the operator's role is none of their business."""
    return _PRINCIPAL.sub("the operator's role", text)


def error_code(error: ClientError) -> str:
    """AWS's error code of a failed call, such as AccessDenied."""
    return str(error.response.get("Error", {}).get("Code", ""))


def iam_action(operation: str) -> str:
    """The IAM action of an API operation given as service:Operation."""
    return IAM_ACTIONS.get(operation, operation)


def failed(service: str, error: ClientError | BotoCoreError, resource: str) -> AwsError:
    """An AwsError naming the IAM action of the call that failed."""
    operation = getattr(error, "operation_name", "Request")
    return explain(error, f"{iam_action(f'{service}:{operation}')} {resource}")
