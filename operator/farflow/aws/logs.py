"""The CloudWatch log group of a cluster, for Airflow's remote task logs."""

from __future__ import annotations

from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from farflow.aws.session import TAG_KEY, AwsError, client, failed, held, tagged_owner

_failed = partial(failed, "logs")


def ensure_log_group(
    name: str, retention_days: int, region: str, owner: str, kms_key: str | None = None
) -> str:
    """The log group's ARN (without the trailing ':*'), creating the group if missing (with
    ``kms_key``, fixed at creation); an existing group is changed only when it is ours."""
    logs = client("logs", region)
    try:
        group = _find(logs, name)
        if group is None:
            key = {"kmsKeyId": kms_key} if kms_key else {}
            logs.create_log_group(logGroupName=name, tags={TAG_KEY: owner}, **key)
            group = _find(logs, name) or {}
        else:
            _check_owner(logs, group, owner)
        if group.get("retentionInDays") != retention_days:
            logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
        return _arn(group)
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, name) from error


def delete_log_group(region: str, name: str, owner: str) -> bool:
    """Deletes the log group if it is tagged ours. True once no group of ours remains."""
    logs = client("logs", region)
    try:
        group = _find(logs, name)
        if group is None:
            return True
        if _owner(logs, group) == owner:
            logs.delete_log_group(logGroupName=name)
    except logs.exceptions.ResourceNotFoundException:
        return True
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, name) from error
    return True


def _find(logs: Any, name: str) -> dict[str, Any] | None:
    response = logs.describe_log_groups(logGroupNamePrefix=name)
    return next((g for g in response.get("logGroups", []) if g["logGroupName"] == name), None)


def _arn(group: dict[str, Any]) -> str:
    return str(group["arn"]).removesuffix(":*")


def _owner(logs: Any, group: dict[str, Any]) -> str | None:
    return tagged_owner(logs.list_tags_for_resource(resourceArn=_arn(group)).get("tags", {}))


def _check_owner(logs: Any, group: dict[str, Any], owner: str) -> None:
    found = _owner(logs, group)
    if found != owner:
        raise AwsError(
            "LogGroupNotOwned",
            f"log group {group['logGroupName']} exists but {held(found)}, not {owner}, so FarFlow "
            "will not change it; choose another logging.cloudwatch.logGroup, or tag the group "
            f"{TAG_KEY}={owner} to hand it to this cluster",
        )
