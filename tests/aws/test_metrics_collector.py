"""farflow_metrics as its pod runs it (``python -m farflow_metrics``, the runtime folder on
PYTHONPATH) against moto, fed by Airflow's own OpenTelemetry emitter with deltas preferred,
as Airflow's pods are configured: the heartbeats, a gauge and a timer reach CloudWatch under
Airflow's names without its prefix, with the Cluster dimension and their units; an SQS
queue's depth too; Prometheus sees the same; SIGTERM flushes what the interval had not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from tests.aws.moto_env import unique
from tests.cases import ROOT
from tests.fixtures.processes import Process, answers, free_port, wait_until

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]

RUNTIME = ROOT / "operator" / "farflow" / "runtime"
NAMESPACE = "FarFlow"
# An Airflow process's metrics through Airflow's OTel logger, exported (OTLP/HTTP) when it ends.
EMITTER = """
import sys
from airflow._shared.observability.metrics.otel_logger import flush_otel_metrics, get_otel_logger

otel = get_otel_logger(host="127.0.0.1", port=int(sys.argv[1]), prefix="airflow", conf_interval=500)
for _ in range(3):
    otel.incr("scheduler_heartbeat")
otel.gauge("executor.open_slots", 3)
otel.timing("dag_processing.total_parse_time", 1.5)
flush_otel_metrics()
"""
EMITTED = {"scheduler_heartbeat", "executor.open_slots", "dag_processing.total_parse_time"}


@contextmanager
def collector(
    log: Path, cluster: str, interval: int, queues: str = ""
) -> Iterator[tuple[Process, int]]:
    """The collector on a free port (with it), answering its health check."""
    port = free_port()
    env = {
        "PYTHONPATH": str(RUNTIME),
        "FARFLOW_METRICS_PORT": str(port),
        "FARFLOW_METRICS_NAMESPACE": NAMESPACE,
        "FARFLOW_METRICS_CLUSTER": cluster,
        "FARFLOW_METRICS_INTERVAL": str(interval),
        "FARFLOW_METRICS_QUEUES": queues,
    }
    process = Process([sys.executable, "-m", "farflow_metrics"], log, env).start()
    try:
        wait_until(lambda: answers(url(port, "/healthz")), 30, "the collector answering")
        yield process, port
    finally:
        process.stop()


def url(port: int, path: str) -> str:
    return f"http://127.0.0.1:{port}{path}"


def emit(port: int, home: Path) -> None:
    """One Airflow process's metrics, pushed to the collector before it exits."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
    }
    argv = [sys.executable, "-c", EMITTER, str(port)]
    subprocess.run(argv, env=env, check=True, timeout=120)


def statistic(name: str, dimensions: dict[str, str], stat: str, unit: str = "") -> float | None:
    """The metric's statistic over the last and the next hour in CloudWatch; None if none."""
    now = datetime.now(UTC)
    metric = {
        "Namespace": NAMESPACE,
        "MetricName": name,
        "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
    }
    query = {"Metric": metric, "Period": 3600, "Stat": stat} | ({"Unit": unit} if unit else {})
    answer = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": query}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
    )
    values: list[float] = answer["MetricDataResults"][0]["Values"]
    return sum(values) if stat == "Sum" and values else max(values, default=None)


def names(cluster: str) -> set[str]:
    """The CloudWatch metrics that carry this cluster's dimension."""
    listed = boto3.client("cloudwatch").list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "Cluster", "Value": cluster}]
    )
    return {metric["MetricName"] for metric in listed["Metrics"]}


def get(address: str) -> str:
    with urllib.request.urlopen(address, timeout=5) as answer:
        return str(answer.read().decode())


def status(address: str, body: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(address, data=body), timeout=5):
            return 200
    except urllib.error.HTTPError as error:
        return error.code


def test_airflow_s_metrics_and_the_queue_depth_reach_cloudwatch_and_prometheus(
    tmp_path: Path,
) -> None:
    cluster, sqs = f"tests/{unique('metrics')}", boto3.client("sqs")
    queue = sqs.create_queue(QueueName=unique("farflow-metrics"))["QueueUrl"]
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    with collector(tmp_path / "collector.log", cluster, interval=1, queues=queue) as (_, port):
        emit(port, tmp_path)
        alone, by_queue = {"Cluster": cluster}, {"Cluster": cluster, "Queue": queue.split("/")[-1]}
        wait_until(lambda: statistic("scheduler_heartbeat", alone, "Sum") == 3, 60, "heartbeats")
        wait_until(lambda: statistic("sqs.waiting", by_queue, "Maximum") == 2, 60, "the depth")
        assert statistic("executor.open_slots", alone, "Maximum", "None") == 3
        timer = statistic("dag_processing.total_parse_time", alone, "Maximum", "Milliseconds")
        assert timer == 1.5
        assert statistic("sqs.running", by_queue, "Maximum", "Count") == 0
        assert {*EMITTED, "sqs.waiting", "sqs.running"} <= names(cluster)
        shown = get(url(port, "/metrics")).splitlines()
        assert "airflow_scheduler_heartbeat_total 3.0" in shown
        assert f'farflow_sqs_waiting{{queue="{by_queue["Queue"]}"}} 2.0' in shown
        assert status(url(port, "/v1/metrics"), b"not protobuf") == 400
        assert status(url(port, "/v1/traces"), b"") == 404
        assert status(url(port, "/nothing-here")) == 404


def test_sigterm_flushes_the_last_interval_and_exits_0(tmp_path: Path) -> None:
    cluster = f"tests/{unique('metrics')}"
    alone = {"Cluster": cluster}
    with collector(tmp_path / "collector.log", cluster, interval=3600) as (process, port):
        emit(port, tmp_path)
        received = "airflow_scheduler_heartbeat_total 3.0"
        wait_until(lambda: received in get(url(port, "/metrics")), 30, "the heartbeats")
        assert statistic("scheduler_heartbeat", alone, "Sum") is None  # an hour to the flush
        process.send(signal.SIGTERM)
        wait_until(lambda: not process.alive(), 30, "the collector to exit")
        assert process.popen is not None
        assert process.popen.returncode == 0, process.tail()
    assert statistic("scheduler_heartbeat", alone, "Sum") == 3
