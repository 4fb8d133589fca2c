"""The CloudWatch log group of a cluster, for Airflow's remote task logs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from farflow.aws.session import TAG_KEY, client, explain


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
        raise explain(error, f"logs:CreateLogGroup {name}") from error


def _find(logs: Any, name: str) -> dict[str, Any] | None:
    response = logs.describe_log_groups(logGroupNamePrefix=name)
    return next((g for g in response.get("logGroups", []) if g["logGroupName"] == name), None)
