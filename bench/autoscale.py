"""The worker autoscaler: from a burst of messages in the cluster's SQS queue to the
workers' Deployment at the replicas it calls for, at two look intervals in the same run,
beside the documented figures of other autoscalers."""

from __future__ import annotations

import math
import time
from functools import partial
from typing import Any

from kubernetes import client
from rich.progress import Progress

from bench.report import Table, p50_p95, seconds
from bench.stack import Stack, clusters_call, is_ready, watch_until
from tests.fixtures.operator import apply_cluster, get_json

LOOKS = (5.0, 1.0)  # --autoscale-seconds: the default, and a fast one
BURST, TASKS_PER_WORKER = 10, 2
WORKERS = "minimal-worker"
SCALED = {
    "spec": {
        "workers": {
            "minReplicas": 0,
            "maxReplicas": 10,
            "concurrency": 4,
            "autoscaling": {"tasksPerWorker": TASKS_PER_WORKER, "scaleDownDelaySeconds": 0},
        }
    }
}
TIMEOUT = 120.0
# Documented by their projects, not measured here: (who, looks every, scale-in).
REFERENCES = (
    ("KEDA's `aws-sqs-queue` scaler, defaults", "30 s", "`cooldownPeriod` 300 s"),
    ("Airflow's Helm chart, `workers.keda`", "5 s", "`cooldownPeriod` 30 s"),
    ("Amazon MWAA", "—", "2-5 min"),
)


def run(stack: Stack, samples: int, progress: Progress) -> list[Table]:
    queues = {look: _cluster(stack, look) for look in LOOKS}
    task = progress.add_task("autoscale: bursts", total=samples * len(LOOKS))
    measured: dict[float, list[tuple[float, float]]] = {look: [] for look in LOOKS}
    for _ in range(samples):
        for look in LOOKS:  # in turn, so both see the same load
            measured[look].append(_burst(stack, f"bench-autoscale-{look:g}", queues[look]))
            progress.advance(task)
    stack.stop_operators()
    return [_table(measured, samples)]


def _cluster(stack: Stack, look: float) -> str:
    """An autoscaled cluster with an operator looking every ``look`` s; its queue's URL."""
    namespace = stack.namespace(f"bench-autoscale-{look:g}")
    stack.operator(f"autoscale-{look:g}", [namespace], "--autoscale-seconds", str(look))
    apply_cluster(stack.cluster, namespace, SCALED)
    watch_until(
        clusters_call(stack.api, namespace),
        lambda seen: is_ready(seen.get(f"{namespace}/minimal")),
        TIMEOUT,
        f"the AirflowCluster in {namespace} Ready",
    )
    _replicas(stack, namespace, 0)
    body = get_json(stack.cluster, "-n", namespace, "af/minimal")
    return str(body["status"]["aws"]["queueUrls"]["default"])


def _burst(stack: Stack, namespace: str, queue: str) -> tuple[float, float]:
    """Seconds from sending BURST messages to the workers' replicas set for them, and from
    the queue drained to the workers back at zero."""
    sqs = stack.sqs()
    entries = [{"Id": str(i), "MessageBody": f"task {i}"} for i in range(BURST)]
    start = time.time()
    sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    scaled = _replicas(stack, namespace, math.ceil(BURST / TASKS_PER_WORKER))
    _drain(sqs, queue)
    drained = time.time()
    return scaled - start, _replicas(stack, namespace, 0) - drained


def _replicas(stack: Stack, namespace: str, wanted: int) -> float:
    apps = client.AppsV1Api(stack.api)

    def holds(seen: dict[str, Any]) -> bool:
        workers = seen.get(f"{namespace}/{WORKERS}")
        return workers is not None and workers["spec"]["replicas"] == wanted

    return watch_until(
        partial(apps.list_namespaced_deployment, namespace),
        holds,
        TIMEOUT,
        f"{wanted} workers in {namespace}",
        field_selector=f"metadata.name={WORKERS}",
    )


def _drain(sqs: Any, queue: str) -> None:
    """Every message received and deleted, as workers would (in flight counts as demand)."""
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        handles = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        sqs.delete_message_batch(QueueUrl=queue, Entries=handles)


def _table(measured: dict[float, list[tuple[float, float]]], samples: int) -> Table:
    command = f".venv/bin/python -m bench autoscale --samples {samples}"
    table = Table(
        f"Autoscaler: a burst of {BURST} SQS messages -> the workers' spec.replicas",
        (
            "autoscaler",
            "looks every",
            "out p50",
            "out p95",
            "in p50",
            "in p95",
            "bursts",
            "command",
        ),
    )
    for look, values in measured.items():
        out, back = p50_p95([v[0] for v in values]), p50_p95([v[1] for v in values])
        cells = (seconds(out[0]), seconds(out[1]), seconds(back[0]), seconds(back[1]))
        row = ("FarFlow (measured)", f"{look:g} s", *cells, str(len(values)), f"`{command}`")
        table.rows.append(row)
        table.samples[f"{look:g} s scale-out"] = [v[0] for v in values]
        table.samples[f"{look:g} s scale-in"] = [v[1] for v in values]
    for name, every, scale_in in REFERENCES:
        documented = (f"{name} (documented, not measured)", every, "—", "—", scale_in, "—")
        table.rows.append((*documented, "—", "—"))
    table.notes = [
        f"tasksPerWorker {TASKS_PER_WORKER}: {BURST} messages call for "
        f"{math.ceil(BURST / TASKS_PER_WORKER)} workers from 0. Scale-out: from just before "
        "SendMessageBatch to the watch event of the Deployment's new spec.replicas. Scale-in: "
        "from the queue drained (every message received and deleted) to spec.replicas 0, "
        "with scaleDownDelaySeconds 0 (the default, 300 s, comes on top). The pods starting "
        "(on Fargate, about a minute) comes on top of every scale-out."
    ]
    return table
