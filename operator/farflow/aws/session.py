"""boto3 clients with retries for throttling and 5xx errors, and the errors users can act on."""

from __future__ import annotations

import hashlib
import os
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
TAG_KEY = "farflow.io/cluster"


class AwsError(Exception):
    """An AWS call that failed in a way only a change (of spec or of IAM) can fix."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region, config=RETRIES)


def default_region() -> str | None:
    """The operator's own region (AWS_REGION / AWS_DEFAULT_REGION / its profile)."""
    region: str | None = os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    return region


def owner_tag(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def resource_name(namespace: str, name: str, suffix: str = "", limit: int = 80) -> str:
    """A deterministic AWS name for a cluster's resource, shortened with a hash to fit."""
    full = f"farflow-{namespace}-{name}{suffix}"
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: limit - len(suffix) - 9]}-{digest}{suffix}"


def explain(error: ClientError | BotoCoreError, action: str) -> AwsError:
    """An AwsError naming the failed action and what AWS said, for a status condition."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Unknown")
        text = error.response.get("Error", {}).get("Message", "")
        return AwsError(code, f"{action} failed: {code}: {text}")
    return AwsError("AwsUnreachable", f"{action} failed: {error}")


def error_code(error: ClientError) -> str:
    """AWS's error code of a failed call, such as AccessDenied."""
    return str(error.response.get("Error", {}).get("Code", ""))


def failed(service: str, error: ClientError | BotoCoreError, resource: str) -> AwsError:
    """An AwsError naming the IAM action of the call that failed (service:Operation)."""
    operation = getattr(error, "operation_name", "Request")
    return explain(error, f"{service}:{operation} {resource}")
