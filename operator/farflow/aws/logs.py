"""The CloudWatch log group of a cluster, for Airflow's remote task logs."""

from __future__ import annotations

from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from farflow.aws.session import TAG_KEY, client, failed, tagged_owner

_failed = partial(failed, "logs")


def ensure_log_group(name: str, retention_days: int, region: str, owner: str) -> str:
    """The log group's ARN (without the trailing ':*'), creating the group if missing."""
    logs = client("logs", region)
    try:
        group = _find(logs, name)
        if group is None:
            logs.create_log_group(logGroupName=name, tags={TAG_KEY: owner})
            group = _find(logs, name) or {}
        if group.get("retentionInDays") != retention_days:
            logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
        return str(group["arn"]).removesuffix(":*")
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, name) from error


def delete_log_group(region: str, name: str, owner: str) -> bool:
    """Deletes the log group if it is tagged ours. True once no group of ours remains."""
    logs = client("logs", region)
    try:
        group = _find(logs, name)
        if group is None:
            return True
        arn = str(group["arn"]).removesuffix(":*")
        if tagged_owner(logs.list_tags_for_resource(resourceArn=arn).get("tags", {})) == owner:
            logs.delete_log_group(logGroupName=name)
    except logs.exceptions.ResourceNotFoundException:
        return True
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, name) from error
    return True


def _find(logs: Any, name: str) -> dict[str, Any] | None:
    response = logs.describe_log_groups(logGroupNamePrefix=name)
    return next((g for g in response.get("logGroups", []) if g["logGroupName"] == name), None)
