"""spec.metrics with real Airflow processes (`farflow dev`): the scheduler's heartbeat and a
task's success go from Airflow's OpenTelemetry exporter through the collector's process
(farflow_metrics, run from the manifests as the pod runs it) into the embedded CloudWatch,
where GetMetricData reads them under the cluster's dimension, and to Prometheus; the
operator's gather made the cluster's dashboard there."""

from __future__ import annotations

import datetime
import urllib.request
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cases import DEV, load, merged
from tests.dev.dev_cluster import DevCluster
from tests.fixtures.processes import free_port, wait_until

pytestmark = pytest.mark.e2e

DAG = """
from airflow.sdk import dag, task


@dag(schedule=None)
def metrics_probe():
    @task
    def succeed() -> str:
        return "done"

    succeed()


metrics_probe()
"""
NAMESPACE = "FarFlow"


def total(cloudwatch: Any, metric: str) -> float:
    """The Sum of ``metric`` over the last hour, across the clusters in the namespace."""
    found = cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName=metric)["Metrics"]
    if not found:
        return 0.0
    end = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)
    query = {
        "Id": "m",
        "MetricStat": {"Metric": found[0], "Period": 60, "Stat": "Sum"},
    }
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[query], StartTime=end - datetime.timedelta(hours=1), EndTime=end
    )
    return float(sum(data["MetricDataResults"][0]["Values"]))


def counted(cloudwatch: Any, metric: str) -> bool:
    return total(cloudwatch, metric) >= 1


def test_airflow_s_metrics_reach_cloudwatch_and_prometheus(tmp_path: Path) -> None:
    metrics = {"enabled": True, "intervalSeconds": 10}
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(yaml.safe_dump(merged(load(DEV), {"spec": {"metrics": metrics}})))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "metrics_probe.py").write_text(DAG)
    cluster = DevCluster(tmp_path / "state", dags, free_port(), manifest=manifest)
    try:
        result = cluster.up()
        assert result.returncode == 0, result.stdout + result.stderr
        assert Path(cluster.component("metrics")["log"]).exists()  # a process of its own
        cluster.api.unpause("metrics_probe")
        run_id = cluster.api.trigger("metrics_probe")
        assert cluster.api.wait_for_run("metrics_probe", run_id, 300) == "success"

        cloudwatch = cluster.aws("cloudwatch")
        for metric in ("scheduler_heartbeat", "ti_successes"):
            wait_until(partial(counted, cloudwatch, metric), 90, f"{metric} in CloudWatch")
        [heartbeat] = cloudwatch.list_metrics(
            Namespace=NAMESPACE, MetricName="scheduler_heartbeat"
        )["Metrics"]
        [dimension] = heartbeat["Dimensions"]
        assert dimension["Name"] == "Cluster"
        assert dimension["Value"].endswith("/dev")
        board = f"farflow-{dimension['Value'].replace('/', '-')}"
        assert (
            "scheduler_heartbeat" in cloudwatch.get_dashboard(DashboardName=board)["DashboardBody"]
        )
        with urllib.request.urlopen("http://127.0.0.1:4318/metrics", timeout=10) as response:
            assert "airflow_scheduler_heartbeat_total" in response.read().decode()
    finally:
        print(cluster.farflow("down", "--purge").stdout)
