"""A cluster's CloudWatch dashboard and alarms over the metrics its collector writes.

Dashboards take no tags, so a dashboard names its owner in its text widget (the
farflow.io/cluster tag's ``key=value``), and FarFlow changes or deletes only a dashboard that
names this cluster. Alarms carry the tag, as everything else FarFlow creates does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from farflow.api.spec import AlarmsSpec, MetricsSpec
from farflow.aws.session import TAG_KEY, AwsError, client, failed, held, tagged_owner

_failed = partial(failed, "cloudwatch")
# The graphs of the dashboard: title, then (metric, statistic) pairs; each with the
# dimension Cluster. Names as farflow_metrics writes them (Airflow's, without "airflow.").
GRAPHS = (
    ("Scheduler heartbeats", (("scheduler_heartbeat", "Sum"),)),
    ("Task instances", (("ti_successes", "Sum"), ("ti_failures", "Sum"))),
    ("DAG parsing (s)", (("dag_processing.total_parse_time", "Average"),)),
    ("Task run time (ms)", (("task.duration", "Average"), ("task.duration", "Maximum"))),
)


@dataclass(frozen=True)
class Target:
    """Where a cluster's metrics are and who owns what is made of them."""

    region: str
    owner: str  # the farflow.io/cluster tag's value, which is also the dimension Cluster
    name: str  # the dashboard's name, and the alarms' prefix
    queues: tuple[str, ...]  # SQS queue names, the dimension Queue of sqs.waiting
    executors: tuple[str, ...] = ("CeleryExecutor",)  # the class names of spec.airflow's


def sync_metrics(target: Target, metrics: MetricsSpec) -> None:
    """The dashboard and alarms the spec asks for, and none of ours it no longer does."""
    wanted = metrics.enabled and metrics.dashboard
    cloudwatch = client("cloudwatch", target.region)
    try:
        if wanted:
            _put_dashboard(cloudwatch, target, metrics)
        else:
            _delete_dashboard(cloudwatch, target)
        alarms = metrics.alarms if metrics.enabled else None
        _sync_alarms(cloudwatch, target, list(_alarms(target, metrics, alarms)) if alarms else [])
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, f"dashboard and alarms {target.name}") from error


def remove_metrics(target: Target) -> bool:
    """Deletes the cluster's dashboard and alarms (ours only); True once none remains."""
    sync_metrics(target, MetricsSpec(enabled=False))
    return True


def dashboard_body(target: Target, metrics: MetricsSpec) -> dict[str, Any]:
    marker = {
        "type": "text",
        "x": 0,
        "y": 0,
        "width": 24,
        "height": 2,
        "properties": {
            "markdown": f"## Airflow {target.owner}\nMade by FarFlow ({_marker(target)}); "
            "edits here are replaced: change the AirflowCluster instead."
        },
    }
    shown = (
        *GRAPHS,
        ("Executor slots", _executor_series(target)),
        ("SQS: tasks waiting and running", _queue_series(target)),
    )
    graphs = [
        _graph(target, metrics, title, series, index) for index, (title, series) in enumerate(shown)
    ]
    return {"widgets": [marker, *graphs]}


def _marker(target: Target) -> str:
    return f"{TAG_KEY}={target.owner}"


def _executor_series(target: Target) -> tuple[tuple[str, str], ...]:
    """Airflow names its executor gauges after the executor's class when there are several
    (executor.open_slots.CeleryExecutor), else not."""
    suffixes = [f".{name}" for name in target.executors] if len(target.executors) > 1 else [""]
    return tuple(
        (f"executor.{gauge}{suffix}", "Maximum")
        for suffix in suffixes
        for gauge in ("open_slots", "queued_tasks", "running_tasks")
    )


def _queue_series(target: Target) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (metric, "Maximum", queue)
        for queue in target.queues
        for metric in ("sqs.waiting", "sqs.running")
    )


def _graph(
    target: Target, metrics: MetricsSpec, title: str, series: tuple[Any, ...], index: int
) -> dict[str, Any]:
    lines = []
    for metric, statistic, *queue in series:
        dimensions = ["Cluster", target.owner, *(("Queue", queue[0]) if queue else ())]
        label = f"{metric} {queue[0]}" if queue else f"{metric} ({statistic})"
        lines.append([metrics.namespace, metric, *dimensions, {"stat": statistic, "label": label}])
    return {
        "type": "metric",
        "x": (index % 2) * 12,
        "y": 2 + (index // 2) * 6,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": target.region,
            "metrics": lines,
            "period": _period(metrics),
            "view": "timeSeries",
        },
    }


def _period(metrics: MetricsSpec) -> int:
    """CloudWatch's periods above a minute are whole minutes; one write per period at least."""
    return 60 * math.ceil(metrics.interval_seconds / 60)


def _put_dashboard(cloudwatch: Any, target: Target, metrics: MetricsSpec) -> None:
    body = dashboard_body(target, metrics)
    current = _dashboard(cloudwatch, target)
    if current is not None:
        _check_dashboard_owner(target, current)
        if json.loads(current) == body:
            return
    cloudwatch.put_dashboard(DashboardName=target.name, DashboardBody=json.dumps(body))


def _delete_dashboard(cloudwatch: Any, target: Target) -> None:
    current = _dashboard(cloudwatch, target)
    if current is not None and _marker(target) in current:
        cloudwatch.delete_dashboards(DashboardNames=[target.name])


def _dashboard(cloudwatch: Any, target: Target) -> str | None:
    try:
        return str(cloudwatch.get_dashboard(DashboardName=target.name)["DashboardBody"])
    except cloudwatch.exceptions.ResourceNotFound:
        return None


def _check_dashboard_owner(target: Target, body: str) -> None:
    if _marker(target) not in body:
        raise AwsError(
            "DashboardNotOwned",
            f"CloudWatch dashboard {target.name} exists and is not FarFlow's for "
            f"{target.owner}, so FarFlow will not replace it; delete or rename it, or set "
            "spec.metrics.dashboard: false",
        )


def _alarms(target: Target, metrics: MetricsSpec, alarms: AlarmsSpec) -> Iterator[dict[str, Any]]:
    """The PutMetricAlarm requests of spec.metrics.alarms."""
    yield _alarm(
        target,
        metrics,
        alarms,
        suffix="scheduler-heartbeat",
        why=f"no scheduler of {target.owner} has heartbeat for "
        f"{alarms.scheduler_heartbeat_missing_minutes} minutes",
        metric=("scheduler_heartbeat", "Sum", [("Cluster", target.owner)]),
        minutes=alarms.scheduler_heartbeat_missing_minutes,
        below=True,
        threshold=1,
    )
    if alarms.queue_backlog_minutes is None:
        return
    for queue in target.queues:
        yield _alarm(
            target,
            metrics,
            alarms,
            suffix=f"backlog-{queue}",
            why=f"tasks of {target.owner} have waited in SQS queue {queue} for a worker for "
            f"{alarms.queue_backlog_minutes} minutes",
            metric=("sqs.waiting", "Minimum", [("Cluster", target.owner), ("Queue", queue)]),
            minutes=alarms.queue_backlog_minutes,
            below=False,
            threshold=0,
        )


def _alarm(
    target: Target,
    metrics: MetricsSpec,
    alarms: AlarmsSpec,
    *,
    suffix: str,
    why: str,
    metric: tuple[str, str, list[tuple[str, str]]],
    minutes: int,
    below: bool,  # whether it fires below the threshold (else above it)
    threshold: float,
) -> dict[str, Any]:
    name, statistic, dimensions = metric
    period = _period(metrics)
    return {
        "AlarmName": f"{target.name}-{suffix}",
        "AlarmDescription": why,
        "Namespace": metrics.namespace,
        "MetricName": name,
        "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions],
        "Statistic": statistic,
        "Period": period,
        "EvaluationPeriods": max(1, math.ceil(minutes * 60 / period)),
        "Threshold": threshold,
        "ComparisonOperator": "LessThanThreshold" if below else "GreaterThanThreshold",
        # No heartbeat written at all (the collector is down too) is a missing heartbeat.
        "TreatMissingData": "breaching" if below else "notBreaching",
        "AlarmActions": [alarms.sns_topic_arn],
        "OKActions": [alarms.sns_topic_arn],
        "Tags": [{"Key": TAG_KEY, "Value": target.owner}],
    }


def _sync_alarms(cloudwatch: Any, target: Target, wanted: list[dict[str, Any]]) -> None:
    existing = _existing_alarms(cloudwatch, target)
    for alarm in wanted:
        arn = existing.pop(alarm["AlarmName"], None)
        if arn is not None:
            _check_alarm_owner(cloudwatch, target, alarm["AlarmName"], arn)
        cloudwatch.put_metric_alarm(**alarm)
    ours = [name for name, arn in existing.items() if _alarm_owner(cloudwatch, arn) == target.owner]
    if ours:
        cloudwatch.delete_alarms(AlarmNames=ours)


def _existing_alarms(cloudwatch: Any, target: Target) -> dict[str, str]:
    """Alarm name -> ARN of the alarms named with the cluster's prefix."""
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=f"{target.name}-", AlarmTypes=["MetricAlarm"]
    )
    return {
        alarm["AlarmName"]: alarm["AlarmArn"] for page in pages for alarm in page["MetricAlarms"]
    }


def _alarm_owner(cloudwatch: Any, arn: str) -> str | None:
    return tagged_owner(cloudwatch.list_tags_for_resource(ResourceARN=arn).get("Tags", []))


def _check_alarm_owner(cloudwatch: Any, target: Target, name: str, arn: str) -> None:
    found = _alarm_owner(cloudwatch, arn)
    if found != target.owner:
        raise AwsError(
            "AlarmNotOwned",
            f"CloudWatch alarm {name} exists but {held(found)}, not {target.owner}, so FarFlow "
            f"will not change it; delete it, or tag it {TAG_KEY}={target.owner}",
        )
