"""farflow_metrics' conversion, fed real OTLP protobufs: what Airflow pushes -> the CloudWatch
datums of each flush (names without Airflow's prefix, the few dimensions kept, deltas of
counters and 0 for a quiet one, last values of gauges, statistics of histograms) and the
Prometheus text of the same state."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    AGGREGATION_TEMPORALITY_DELTA,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from prometheus_client.exposition import generate_latest

from farflow.runtime.farflow_metrics import Metrics, PrometheusView, Settings, queue_name

pytestmark = pytest.mark.unit

CLUSTER = "team-a/analytics"
STARTED = 1_000_000_000_000  # the collector's start, in ns since the epoch
BEFORE, AFTER = STARTED - 5, STARTED + 5  # streams that started before it, and after


MAP_INDEX: dict[str, Any] = {"map-index": "1"}  # not a label name as it is


def attributes(values: dict[str, str | int]) -> list[KeyValue]:
    return [
        KeyValue(key=key, value=AnyValue(string_value=value))
        if isinstance(value, str)
        else KeyValue(key=key, value=AnyValue(int_value=value))
        for key, value in values.items()
    ]


def pushed(*metrics: Metric) -> ExportMetricsServiceRequest:
    """One export of an Airflow process, as its OTLP exporter sends it."""
    scope = ScopeMetrics(metrics=list(metrics))
    return ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(scope_metrics=[scope])])


def counter(
    name: str, value: int, *, cumulative_since: int | None = None, **tags: str | int
) -> Metric:
    point = NumberDataPoint(as_int=value, attributes=attributes(tags))
    temporality = AGGREGATION_TEMPORALITY_DELTA
    if cumulative_since is not None:
        point.start_time_unix_nano = cumulative_since
        temporality = AGGREGATION_TEMPORALITY_CUMULATIVE
    data = Sum(data_points=[point], aggregation_temporality=temporality, is_monotonic=True)
    return Metric(name=name, sum=data)


def gauge(name: str, value: float, **tags: str | int) -> Metric:
    point = NumberDataPoint(as_double=value, attributes=attributes(tags))
    return Metric(name=name, gauge=Gauge(data_points=[point]))


def histogram(name: str, *values: float, exponential: bool = False, **tags: str) -> Metric:
    """A delta histogram of ``values``, plain or exponential (Airflow's timers), in ms."""
    spread: dict[str, Any] = {"count": len(values), "sum": sum(values)}
    if values:
        spread |= {"min": min(values), "max": max(values)}
    delta, labels = AGGREGATION_TEMPORALITY_DELTA, attributes(dict(tags))
    if exponential:
        point = ExponentialHistogramDataPoint(**spread, scale=20, attributes=labels)
        data = ExponentialHistogram(data_points=[point], aggregation_temporality=delta)
        return Metric(name=name, unit="ms", exponential_histogram=data)
    plain = HistogramDataPoint(**spread, attributes=labels)
    return Metric(
        name=name,
        unit="ms",
        histogram=Histogram(data_points=[plain], aggregation_temporality=delta),
    )


def flushed(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]]:
    """One flush's datums by name and dimensions, each without them."""
    found = {}
    for datum in metrics.drain():
        dimensions = tuple((d["Name"], d["Value"]) for d in datum.pop("Dimensions"))
        found[datum.pop("MetricName"), dimensions] = datum
    return found


def cluster(**dimensions: str) -> tuple[tuple[str, str], ...]:
    return (("Cluster", CLUSTER), *dimensions.items())


def prometheus(metrics: Metrics) -> list[str]:
    return generate_latest(PrometheusView(metrics)).decode().splitlines()


def test_counters_are_summed_over_the_attributes_cloudwatch_does_not_keep() -> None:
    metrics = Metrics(CLUSTER, STARTED)
    metrics.receive(pushed(counter("airflow.scheduler_heartbeat", 2)))
    metrics.receive(
        pushed(
            counter("airflow.scheduler_heartbeat", 1),
            counter("airflow.ti_successes", 3, dag_id="a", task_id="t", queue="default"),
            counter("airflow.ti_successes", 4, dag_id="b", task_id="t", queue="default"),
            counter("airflow.ti_successes", 5, dag_id="c", pool_name="p", queue="default"),
        )
    )
    assert flushed(metrics) == {
        ("scheduler_heartbeat", cluster()): {"Unit": "Count", "Value": 3.0},
        ("ti_successes", cluster(queue="default")): {"Unit": "Count", "Value": 7.0},
        ("ti_successes", cluster(pool_name="p", queue="default")): {"Unit": "Count", "Value": 5.0},
    }


def test_a_counter_seen_before_and_quiet_since_reads_zero() -> None:
    metrics = Metrics(CLUSTER, STARTED)
    metrics.receive(pushed(counter("airflow.scheduler_heartbeat", 4)))
    assert flushed(metrics) == {("scheduler_heartbeat", cluster()): {"Unit": "Count", "Value": 4.0}}
    assert flushed(metrics) == {("scheduler_heartbeat", cluster()): {"Unit": "Count", "Value": 0.0}}
    metrics.receive(pushed(counter("airflow.scheduler_heartbeat", 1)))
    assert flushed(metrics) == {("scheduler_heartbeat", cluster()): {"Unit": "Count", "Value": 1.0}}


def test_cumulative_counters_count_what_each_stream_added() -> None:
    """A stream older than the collector is a baseline at first sight, a younger one counts
    in full; after that each export counts its increase, a reset its whole value."""
    metrics = Metrics(CLUSTER, STARTED)
    metrics.receive(pushed(counter("airflow.ti_failures", 10, cumulative_since=BEFORE)))
    metrics.receive(pushed(counter("airflow.ti_failures", 2, cumulative_since=AFTER)))
    assert flushed(metrics) == {("ti_failures", cluster()): {"Unit": "Count", "Value": 2.0}}
    metrics.receive(pushed(counter("airflow.ti_failures", 13, cumulative_since=BEFORE)))
    metrics.receive(pushed(counter("airflow.ti_failures", 6, cumulative_since=AFTER)))
    assert flushed(metrics) == {("ti_failures", cluster()): {"Unit": "Count", "Value": 7.0}}
    metrics.receive(pushed(counter("airflow.ti_failures", 1, cumulative_since=AFTER)))
    assert flushed(metrics) == {("ti_failures", cluster()): {"Unit": "Count", "Value": 1.0}}


def test_gauges_keep_their_last_value_and_meeting_series_their_statistics() -> None:
    metrics = Metrics(CLUSTER, STARTED)
    metrics.receive(pushed(gauge("airflow.executor.open_slots", 5)))
    metrics.receive(
        pushed(
            gauge("airflow.executor.open_slots", 3),
            gauge("airflow.pool.open_slots", 128, pool_name="default_pool"),
            gauge("airflow.ti.running", 2, dag_id="a", queue="default"),
            gauge("airflow.ti.running", 5, dag_id="b", queue="default"),
        )
    )
    expected = {
        ("executor.open_slots", cluster()): {"Unit": "None", "Value": 3.0},
        ("pool.open_slots", cluster(pool_name="default_pool")): {"Unit": "None", "Value": 128.0},
        ("ti.running", cluster(queue="default")): {
            "Unit": "None",
            "StatisticValues": {"SampleCount": 2, "Sum": 7.0, "Minimum": 2.0, "Maximum": 5.0},
        },
    }
    assert flushed(metrics) == expected
    assert flushed(metrics) == expected  # until a series sends another value


def test_an_up_down_counter_is_a_level() -> None:
    """Airflow's dag_processing.processes, cumulative even when deltas are preferred."""
    level = Sum(
        data_points=[NumberDataPoint(as_int=2, start_time_unix_nano=BEFORE)],
        aggregation_temporality=AGGREGATION_TEMPORALITY_CUMULATIVE,
        is_monotonic=False,
    )
    metrics = Metrics(CLUSTER, STARTED)
    metrics.receive(pushed(Metric(name="airflow.dag_processing.processes", sum=level)))
    assert flushed(metrics) == {
        ("dag_processing.processes", cluster()): {"Unit": "None", "Value": 2.0}
    }


def test_histograms_are_statistics_of_what_was_observed_since_the_last_flush() -> None:
    metrics = Metrics(CLUSTER, STARTED)
    metrics.receive(
        pushed(
            histogram("airflow.dag_processing.total_parse_time", 1.5, 4.0, exponential=True),
            histogram("airflow.dagrun.duration.success", 200.0, dag_id="a"),
            histogram("airflow.dagrun.duration.success", 50.0, 100.0, dag_id="b"),
            histogram("airflow.dagrun.schedule_delay"),  # nothing observed
        )
    )
    metrics.receive(pushed(histogram("airflow.dag_processing.total_parse_time", 0.5)))
    assert flushed(metrics) == {
        ("dag_processing.total_parse_time", cluster()): {
            "Unit": "Milliseconds",
            "StatisticValues": {"SampleCount": 3, "Sum": 6.0, "Minimum": 0.5, "Maximum": 4.0},
        },
        ("dagrun.duration.success", cluster()): {
            "Unit": "Milliseconds",
            "StatisticValues": {"SampleCount": 3, "Sum": 350.0, "Minimum": 50.0, "Maximum": 200.0},
        },
    }
    assert flushed(metrics) == {}


def test_queue_depths_are_gauges_with_the_queue_s_name() -> None:
    metrics = Metrics(CLUSTER, STARTED)
    metrics.set_queues({"farflow-analytics-default": (2, 1)})
    assert flushed(metrics) == {
        ("sqs.waiting", cluster(Queue="farflow-analytics-default")): {
            "Unit": "Count",
            "Value": 2.0,
        },
        ("sqs.running", cluster(Queue="farflow-analytics-default")): {
            "Unit": "Count",
            "Value": 1.0,
        },
    }
    assert queue_name("https://sqs.eu-west-1.amazonaws.com/123456789012/q-default") == "q-default"


def test_prometheus_sees_every_series_with_all_its_attributes() -> None:
    metrics = Metrics(CLUSTER, STARTED)
    metrics.receive(pushed(counter("airflow.ti_successes", 3, dag_id="a", queue="default")))
    metrics.drain()  # counters stay totals since the collector started
    metrics.receive(
        pushed(
            counter("airflow.ti_successes", 2, dag_id="a", queue="default"),
            counter("airflow.scheduler_heartbeat", 1),
            gauge("airflow.pool.open_slots", 128, pool_name="default_pool"),
            histogram("airflow.dag_processing.total_parse_time", 1.5, exponential=True),
            histogram("airflow.dag.a.t.duration", 10.0, 30.0, **MAP_INDEX),
        )
    )
    metrics.set_queues({"farflow-analytics-default": (2, 0)})
    shown = prometheus(metrics)
    assert {
        'airflow_ti_successes_total{dag_id="a",queue="default"} 5.0',
        "airflow_scheduler_heartbeat_total 1.0",
        'airflow_pool_open_slots{pool_name="default_pool"} 128.0',
        "airflow_dag_processing_total_parse_time_count 1.0",
        "airflow_dag_processing_total_parse_time_sum 1.5",
        'airflow_dag_a_t_duration_count{map_index="1"} 2.0',
        'airflow_dag_a_t_duration_sum{map_index="1"} 40.0',
        'farflow_sqs_waiting{queue="farflow-analytics-default"} 2.0',
        'farflow_sqs_running{queue="farflow-analytics-default"} 0.0',
        "# TYPE airflow_ti_successes_total counter",
        "# TYPE airflow_pool_open_slots gauge",
        "# TYPE airflow_dag_processing_total_parse_time summary",
        "# HELP airflow_pool_open_slots airflow.pool.open_slots",
    } <= set(shown)


def test_the_settings_come_from_the_environment() -> None:
    env = {
        "FARFLOW_METRICS_CLUSTER": CLUSTER,
        "FARFLOW_METRICS_QUEUES": "https://sqs/1/a, https://sqs/1/b,",
    }
    assert Settings.from_environment(env) == Settings(
        port=4318,
        namespace="FarFlow",
        cluster=CLUSTER,
        interval=60.0,
        queues=("https://sqs/1/a", "https://sqs/1/b"),
    )
    with pytest.raises(SystemExit, match="FARFLOW_METRICS_CLUSTER"):
        Settings.from_environment({})
