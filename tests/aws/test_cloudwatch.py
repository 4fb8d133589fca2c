"""The dashboard and alarms of spec.metrics against moto: dashboard: false removes ours, and
a dashboard of the name that is not the cluster's is refused, not replaced."""

from __future__ import annotations

import uuid

import boto3
import pytest

from farflow.api.spec import MetricsSpec
from farflow.aws.cloudwatch import Target, sync_metrics
from farflow.aws.session import AwsError

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]


def target() -> Target:
    name = f"farflow-team-{uuid.uuid4().hex[:8]}"
    return Target(region="us-east-1", owner=f"team/{name}", name=name, queues=("q",))


def dashboards(name: str) -> list[str]:
    found = boto3.client("cloudwatch", region_name="us-east-1").list_dashboards(
        DashboardNamePrefix=name
    )
    return [entry["DashboardName"] for entry in found["DashboardEntries"]]


def test_dashboard_false_removes_the_clusters_dashboard() -> None:
    made = target()
    sync_metrics(made, MetricsSpec(enabled=True))
    assert dashboards(made.name) == [made.name]
    sync_metrics(made, MetricsSpec(enabled=True, dashboard=False))
    assert dashboards(made.name) == []


def test_a_dashboard_that_is_not_the_clusters_is_refused() -> None:
    made = target()
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    theirs = '{"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2, '
    theirs += '"properties": {"markdown": "ours"}}]}'
    cloudwatch.put_dashboard(DashboardName=made.name, DashboardBody=theirs)
    with pytest.raises(AwsError) as raised:
        sync_metrics(made, MetricsSpec(enabled=True))
    assert raised.value.reason == "DashboardNotOwned"
    sync_metrics(made, MetricsSpec(enabled=False))  # nor deleted
    assert dashboards(made.name) == [made.name]
