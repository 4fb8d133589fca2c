"""S3 locations from the environment, read and written with boto3's default credential chain,
region and endpoint (``AWS_ENDPOINT_URL``); AWS errors become the task's exit codes."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from tasks.common.job import ConfigError, InputError, OutputError

URI_FORM = "s3://bucket/key"
URI = re.compile(r"s3://(?P<bucket>[^/]+)/(?P<key>.+)")
# S3's bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens.
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_uri(variable: str, value: str) -> S3Uri:
    """``value`` of the environment variable ``variable`` as an S3 location."""
    match = URI.fullmatch(value)
    if match is None:
        raise ConfigError(f"{variable} must have the form {URI_FORM}, got {value!r}")
    if BUCKET.fullmatch(match["bucket"]) is None:
        raise ConfigError(
            f"{variable} must have the form {URI_FORM} with a valid bucket name (3-63 lowercase"
            f" letters, digits, dots, hyphens), got {value!r}"
        )
    return S3Uri(match["bucket"], match["key"])


def env_value(variable: str) -> str | None:
    """The variable's value, or None when it is unset or blank."""
    value = os.environ.get(variable, "").strip()
    return value or None


def s3_uri_from_env(variable: str) -> S3Uri:
    value = env_value(variable)
    if value is None:
        raise ConfigError(f"{variable} is not set: expected {URI_FORM}")
    return parse_s3_uri(variable, value)


def aws_reason(error: Exception) -> str:
    """AWS's error code and message, or botocore's exception name for local failures
    (no credentials, endpoint unreachable)."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Unknown')} ({details.get('Message', '')})"
    return f"{type(error).__name__} ({error})"


def read_object(uri: S3Uri) -> bytes:
    try:
        response = boto3.client("s3").get_object(Bucket=uri.bucket, Key=uri.key)
        return bytes(response["Body"].read())
    except (ClientError, BotoCoreError) as error:
        raise InputError(f"cannot read {uri}: {aws_reason(error)}") from error


def write_object(uri: S3Uri, body: bytes, content_type: str) -> None:
    try:
        boto3.client("s3").put_object(
            Bucket=uri.bucket, Key=uri.key, Body=body, ContentType=content_type
        )
    except (ClientError, BotoCoreError) as error:
        raise OutputError(f"cannot write {uri}: {aws_reason(error)}") from error
