"""The metrics collector of one Airflow cluster: its own small pod from the Airflow image,

    FARFLOW_METRICS_CLUSTER=team-a/analytics FARFLOW_METRICS_QUEUES=https://sqs.../q \\
        python -m farflow_metrics

Airflow's processes push their metrics to it with Airflow's own OpenTelemetry support
([metrics] otel_on, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT): OTLP/HTTP, protobuf, POST /v1/metrics. It
keeps them, and every FARFLOW_METRICS_INTERVAL seconds puts one datum per metric and
dimensions to CloudWatch (namespace FARFLOW_METRICS_NAMESPACE), with the depth of each SQS
queue of FARFLOW_METRICS_QUEUES read then. GET /metrics shows the same state to Prometheus,
GET /healthz answers "ok". One HTTP server on FARFLOW_METRICS_PORT serves all three.

The environment (boto3 takes AWS's own: AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, credentials):

- FARFLOW_METRICS_CLUSTER (required): the value of the dimension Cluster of every datum;
- FARFLOW_METRICS_NAMESPACE: the CloudWatch namespace, "FarFlow" by default;
- FARFLOW_METRICS_INTERVAL: seconds between two flushes to CloudWatch, 60 by default;
- FARFLOW_METRICS_QUEUES: SQS queue URLs, comma-separated, none by default;
- FARFLOW_METRICS_PORT: 4318 (OTLP/HTTP's port) by default.

CloudWatch names are Airflow's without its prefix "airflow." (scheduler_heartbeat,
executor.open_slots). Their dimensions are Cluster and, when a series has them, only the
attributes pool_name and queue: the others (dag_id, task_id, executor_class_name, ...) are
summed away, as CloudWatch bills every distinct set of dimensions as a metric of its own.
Each flush puts:

- a counter's increments since the last flush (Unit Count), and 0 for a counter seen before
  and quiet since: a scheduler that stops heartbeating reads 0, not missing data;
- a gauge's last value; where several series meet in one datum (dag_id summed away, several
  hosts), their statistics (SampleCount, Sum, Minimum, Maximum), so Sum is their total;
- a histogram's statistics since the last flush (Airflow's timers, Unit Milliseconds), none
  when nothing was observed;
- sqs.waiting and sqs.running (ApproximateNumberOfMessages, ...NotVisible) per queue, with the
  dimensions Cluster and Queue (the queue's name).

Airflow's pods send counters and histograms as deltas
(OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta). A cumulative stream (one series
since one start time, i.e. one process) counts what it added since its previous export; at
first sight all of it when it started after the collector, else nothing (its past is not
this collector's to count). A cumulative histogram's Minimum and Maximum are those of its
whole life, OTLP carries no more. A non-monotonic sum (an UpDownCounter:
dag_processing.processes) is a level and kept as a gauge. A gauge keeps its last value until
its series sends another: the last process to push a series wins.

Prometheus sees every series with all its attributes as labels, named airflow_ + the name
with [^a-zA-Z0-9_] as _: counters as totals since the collector started, gauges, histograms
as summaries (_count, _sum); the queues as farflow_sqs_waiting and farflow_sqs_running. A
failed AWS call is logged with its error code and the flush goes on; SIGTERM flushes once
more, then the collector exits 0. Only the standard library and what the Airflow image has
(boto3, opentelemetry-proto with protobuf, prometheus_client) are imported.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import signal
import sys
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_DELTA,
    DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric as Family

log = logging.getLogger("farflow_metrics")

PREFIX = "airflow."  # Airflow's [metrics] otel_prefix and its delimiter
# The attributes CloudWatch keeps (a pool's and a queue's name); the executor's class and
# status are summed away, so the executor's slots are one metric each per cluster.
DIMENSIONS = frozenset({"pool_name", "queue"})
UNITS = {"ms": "Milliseconds", "s": "Seconds", "us": "Microseconds", "By": "Bytes"}
BATCH = 500  # datums per PutMetricData
CLIENT = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
LOG_FORMAT = "farflow_metrics: %(message)s"
DEPTHS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")

Attributes = tuple[tuple[str, str], ...]
Series = tuple[str, Attributes]  # the OTel name, and its attributes sorted
Key = tuple[str, Attributes]  # the CloudWatch name, and its dimensions
Datum = dict[str, Any]
Point = TypeVar("Point", bound=NumberDataPoint | HistogramDataPoint | ExponentialHistogramDataPoint)


@dataclass(frozen=True)
class Settings:
    port: int
    namespace: str
    cluster: str
    interval: float
    queues: tuple[str, ...]

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        if not env.get("FARFLOW_METRICS_CLUSTER"):
            raise SystemExit("farflow_metrics: FARFLOW_METRICS_CLUSTER is not set")
        queues = env.get("FARFLOW_METRICS_QUEUES", "").split(",")
        return cls(
            port=int(env.get("FARFLOW_METRICS_PORT", "4318")),
            namespace=env.get("FARFLOW_METRICS_NAMESPACE") or "FarFlow",
            cluster=env["FARFLOW_METRICS_CLUSTER"],
            interval=float(env.get("FARFLOW_METRICS_INTERVAL", "60")),
            queues=tuple(url.strip() for url in queues if url.strip()),
        )


@dataclass
class Spread:
    """A histogram's observations, or several gauges' values: count, sum and extremes."""

    count: float = 0.0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(len(values), sum(values), min(values), max(values))

    def add(self, other: Spread) -> None:
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def statistics(self) -> dict[str, float]:
        return {
            "SampleCount": self.count,
            "Sum": self.total,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
        }


class Metrics:
    """What Airflow pushed, as CloudWatch and Prometheus read it; one lock around all of it."""

    def __init__(self, cluster: str, started_ns: int) -> None:
        self.cluster, self.started_ns = cluster, started_ns
        self.lock = threading.Lock()
        self.units: dict[str, str] = {}  # CloudWatch name -> OTel unit
        self.totals: dict[Series, float] = {}  # counters since the collector started
        self.counts: dict[Series, float] = {}  # counters since the last flush
        self.gauges: dict[Series, float] = {}
        self.spreads: dict[Series, Spread] = {}  # histograms since the collector started
        self.pending: dict[Series, Spread] = {}  # histograms since the last flush
        self.streams: dict[tuple[Series, int], tuple[float, float]] = {}  # cumulative readings
        self.counted: set[Key] = set()  # every counter flushed once
        self.queues: dict[str, tuple[int, int]] = {}  # queue name -> waiting, running

    def receive(self, request: ExportMetricsServiceRequest) -> None:
        with self.lock:
            for resource in request.resource_metrics:
                for scope in resource.scope_metrics:
                    for metric in scope.metrics:
                        self.take(metric)

    def take(self, metric: Metric) -> None:
        self.units[cloudwatch_name(metric.name)] = metric.unit
        kind = metric.WhichOneof("data")
        if kind == "sum":
            self.take_sum(metric)
        elif kind == "gauge":
            for point, value in numbers(metric.gauge.data_points):
                self.gauges[series(metric.name, point)] = value
        elif kind == "histogram":
            histogram = metric.histogram
            self.take_histogram(
                metric.name, histogram.data_points, histogram.aggregation_temporality
            )
        elif kind == "exponential_histogram":
            exponential = metric.exponential_histogram
            self.take_histogram(
                metric.name, exponential.data_points, exponential.aggregation_temporality
            )

    def take_sum(self, metric: Metric) -> None:
        delta = metric.sum.aggregation_temporality == AGGREGATION_TEMPORALITY_DELTA
        for point, value in numbers(metric.sum.data_points):
            key = series(metric.name, point)
            if not metric.sum.is_monotonic:  # an UpDownCounter: a level
                self.gauges[key] = self.gauges.get(key, 0.0) + value if delta else value
            elif delta:
                self.count(key, value)
            else:
                self.count(key, self.advance(key, point.start_time_unix_nano, (value, 0.0))[0])

    def take_histogram(
        self,
        name: str,
        points: Iterable[HistogramDataPoint | ExponentialHistogramDataPoint],
        temporality: int,
    ) -> None:
        for point in recorded(points):
            key, spread = series(name, point), spread_of(point)
            if temporality != AGGREGATION_TEMPORALITY_DELTA:
                start, reading = point.start_time_unix_nano, (spread.count, spread.total)
                spread.count, spread.total = self.advance(key, start, reading)
            if spread.count > 0:
                self.pending.setdefault(key, Spread()).add(spread)
                self.spreads.setdefault(key, Spread()).add(spread)

    def advance(
        self, key: Series, start_ns: int, reading: tuple[float, float]
    ) -> tuple[float, float]:
        """What a cumulative stream (a series since one start time) added since its previous
        export: at first sight all of it if it started after the collector, else nothing."""
        stream = (key, start_ns)
        last = self.streams.get(stream)
        self.streams[stream] = reading
        if last is None:
            return reading if start_ns >= self.started_ns else (0.0, 0.0)
        if reading[0] < last[0]:  # reset without a new start time
            return reading
        return reading[0] - last[0], reading[1] - last[1]

    def count(self, key: Series, value: float) -> None:
        self.counts[key] = self.counts.get(key, 0.0) + value
        self.totals[key] = self.totals.get(key, 0.0) + value

    def set_queues(self, depths: dict[str, tuple[int, int]]) -> None:
        with self.lock:
            self.queues = depths

    def drain(self) -> list[Datum]:
        """The datums of one flush; what counts since the last flush starts again from 0."""
        with self.lock:
            datums = [
                *self.counter_datums(),
                *self.gauge_datums(),
                *self.histogram_datums(),
                *self.queue_datums(),
            ]
            self.counts, self.pending = {}, {}
        return datums

    def key(self, of: Series) -> Key:
        name, attributes = of
        kept = tuple((key, value) for key, value in attributes if key in DIMENSIONS and value)
        return cloudwatch_name(name), (("Cluster", self.cluster), *kept)

    def unit(self, key: Key) -> str:
        return UNITS.get(self.units.get(key[0], ""), "None")

    def counter_datums(self) -> list[Datum]:
        sums = dict.fromkeys(self.counted, 0.0)
        for of, value in self.counts.items():
            sums[self.key(of)] = sums.get(self.key(of), 0.0) + value
        self.counted |= sums.keys()
        return [datum(key, "Count", Value=value) for key, value in sums.items()]

    def gauge_datums(self) -> list[Datum]:
        levels: dict[Key, list[float]] = defaultdict(list)
        for of, value in self.gauges.items():
            levels[self.key(of)].append(value)
        return [gauge_datum(key, self.unit(key), values) for key, values in levels.items()]

    def histogram_datums(self) -> list[Datum]:
        spreads: dict[Key, Spread] = defaultdict(Spread)
        for of, spread in self.pending.items():
            spreads[self.key(of)].add(spread)
        return [
            datum(key, self.unit(key), StatisticValues=spread.statistics())
            for key, spread in spreads.items()
        ]

    def queue_datums(self) -> list[Datum]:
        datums = []
        for queue, (waiting, running) in self.queues.items():
            dimensions = (("Cluster", self.cluster), ("Queue", queue))
            datums.append(datum(("sqs.waiting", dimensions), "Count", Value=float(waiting)))
            datums.append(datum(("sqs.running", dimensions), "Count", Value=float(running)))
        return datums

    def families(self) -> list[Family]:
        """The Prometheus families: every series with all of its attributes as labels."""
        found: dict[str, Family] = {}
        with self.lock:
            for of, value in self.totals.items():
                counter = family(found, of[0], "counter")
                counter.add_sample(f"{counter.name}_total", labels(of), value)
            for of, value in self.gauges.items():
                gauge = family(found, of[0], "gauge")
                gauge.add_sample(gauge.name, labels(of), value)
            for of, spread in self.spreads.items():
                summary = family(found, of[0], "summary")
                summary.add_sample(f"{summary.name}_count", labels(of), spread.count)
                summary.add_sample(f"{summary.name}_sum", labels(of), spread.total)
            families = list(found.values())
            families += queue_families(self.queues)
        return families


def queue_families(queues: dict[str, tuple[int, int]]) -> list[Family]:
    waiting = Family("farflow_sqs_waiting", "messages waiting in the SQS queue", "gauge")
    running = Family("farflow_sqs_running", "messages taken from the SQS queue", "gauge")
    for queue, (waits, runs) in queues.items():
        waiting.add_sample(waiting.name, {"queue": queue}, waits)
        running.add_sample(running.name, {"queue": queue}, runs)
    return [waiting, running] if queues else []


class PrometheusView:
    """prometheus_client's Collector over the collector's own state."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Family]:
        return self.metrics.families()


def cloudwatch_name(name: str) -> str:
    return name.removeprefix(PREFIX)


def prometheus_name(name: str) -> str:
    return "airflow_" + re.sub(r"[^a-zA-Z0-9_]", "_", cloudwatch_name(name))


def label_name(attribute: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_]", "_", attribute)
    return f"_{name}" if name[:1].isdigit() else name


def labels(of: Series) -> dict[str, str]:
    return {label_name(name): value for name, value in of[1]}


def family(found: dict[str, Family], otel_name: str, kind: str) -> Family:
    """The family of an OTel name (its help text), made on the first series of it."""
    name = prometheus_name(otel_name)
    name = name.removesuffix("_total") if kind == "counter" else name
    if name not in found:
        found[name] = Family(name, otel_name, kind)
    return found[name]


def text(value: AnyValue) -> str:
    """An attribute's value as a label or dimension value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "array_value":
        return ",".join(text(item) for item in value.array_value.values)
    return str(getattr(value, kind))


def series(name: str, point: Point) -> Series:
    return name, tuple(sorted((pair.key, text(pair.value)) for pair in point.attributes))


def recorded(points: Iterable[Point]) -> Iterator[Point]:
    return (point for point in points if not point.flags & DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)


def numbers(points: Iterable[NumberDataPoint]) -> Iterator[tuple[NumberDataPoint, float]]:
    """The points with a value, and it (CloudWatch refuses a batch with NaN or infinity)."""
    for point in recorded(points):
        value = point.as_double if point.WhichOneof("value") == "as_double" else point.as_int
        if math.isfinite(value):
            yield point, float(value)


def spread_of(point: HistogramDataPoint | ExponentialHistogramDataPoint) -> Spread:
    mean = point.sum / point.count if point.count else 0.0
    minimum = point.min if point.HasField("min") else mean
    maximum = point.max if point.HasField("max") else mean
    return Spread(point.count, point.sum, minimum, maximum)


def datum(key: Key, unit: str, **measure: Any) -> Datum:
    name, dimensions = key
    named = [{"Name": dimension, "Value": value} for dimension, value in dimensions]
    return {"MetricName": name, "Dimensions": named, "Unit": unit, **measure}


def gauge_datum(key: Key, unit: str, values: list[float]) -> Datum:
    if len(values) == 1:
        return datum(key, unit, Value=values[0])
    return datum(key, unit, StatisticValues=Spread.of(values).statistics())


def queue_name(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def error_code(error: Exception) -> str:
    """What AWS said, without the request: its error code, or the kind of failure."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "Unknown"))
    return type(error).__name__


class Flusher:
    """Each interval, the queues' depths read and every datum put to CloudWatch."""

    def __init__(self, metrics: Metrics, namespace: str, queue_urls: tuple[str, ...]) -> None:
        self.metrics, self.namespace, self.queue_urls = metrics, namespace, queue_urls
        self.cloudwatch = boto3.client("cloudwatch", config=CLIENT)
        self.sqs = boto3.client("sqs", config=CLIENT)

    def run(self, stopping: threading.Event, interval: float) -> None:
        while not stopping.wait(interval):
            self.flush()

    def flush(self) -> None:
        try:
            self.metrics.set_queues(self.depths())
            datums = self.metrics.drain()
            for start in range(0, len(datums), BATCH):
                self.put(datums[start : start + BATCH])
        except Exception as error:  # the next interval flushes again
            log.error("the flush failed: %r", error)

    def depths(self) -> dict[str, tuple[int, int]]:
        found = {}
        for url in self.queue_urls:
            try:
                answer = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(DEPTHS))
            except (BotoCoreError, ClientError) as error:
                log.warning("cannot read queue %s: %s", queue_name(url), error_code(error))
                continue
            waiting, running = (int(answer["Attributes"][name]) for name in DEPTHS)
            found[queue_name(url)] = waiting, running
        return found

    def put(self, batch: list[Datum]) -> None:
        try:
            self.cloudwatch.put_metric_data(Namespace=self.namespace, MetricData=batch)
        except (BotoCoreError, ClientError) as error:
            log.warning("PutMetricData failed (%d datums lost): %s", len(batch), error_code(error))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, metrics: Metrics) -> None:
        super().__init__(("0.0.0.0", port), Handler)
        self.metrics = metrics


class Handler(BaseHTTPRequestHandler):
    """POST /v1/metrics (OTLP/HTTP, protobuf), GET /metrics (Prometheus), GET /healthz."""

    server: Server

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/v1/metrics":
            self.answer(404, b"not found\n", "text/plain")
            return
        try:
            request = ExportMetricsServiceRequest.FromString(self.body())
        except (DecodeError, ValueError, OSError, EOFError, zlib.error):
            self.answer(400, b"not an OTLP metrics export (protobuf)\n", "text/plain")
            return
        self.server.metrics.receive(request)
        self.answer(
            200, ExportMetricsServiceResponse().SerializeToString(), "application/x-protobuf"
        )

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/metrics":
            self.answer(
                200, generate_latest(PrometheusView(self.server.metrics)), CONTENT_TYPE_LATEST
            )
        elif path == "/healthz":
            self.answer(200, b"ok", "text/plain")
        else:
            self.answer(404, b"not found\n", "text/plain")

    def body(self) -> bytes:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        return gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body

    def answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: every process pushes every few seconds."""


def main() -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format=LOG_FORMAT)
    log.setLevel(logging.INFO)  # botocore's INFO lines (where credentials come from) are noise
    settings = Settings.from_environment(os.environ)
    metrics = Metrics(settings.cluster, time.time_ns())
    flusher = Flusher(metrics, settings.namespace, settings.queues)
    server = Server(settings.port, metrics)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    flushing = threading.Thread(target=flusher.run, args=(stopping, settings.interval), daemon=True)
    flushing.start()
    log.info(
        "listening on port %d; CloudWatch namespace %s, Cluster %s, every %gs; queues: %s",
        settings.port, settings.namespace, settings.cluster, settings.interval,
        ", ".join(queue_name(url) for url in settings.queues) or "none",
    )  # fmt: skip
    stopping.wait()
    log.info("stopping: one last flush")
    server.shutdown()
    flushing.join()  # a flush under way ends first
    flusher.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
