"""Many AirflowClusters under one operator: time until all settle, its peak memory, what it
costs at rest per minute, and how long it takes to repair a deleted Deployment."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import yaml
from kubernetes import client
from rich.progress import Progress

from bench.report import Table, pause, seconds, tally
from bench.stack import Stack, clusters_call, is_ready, peak_rss_mib, settled, watch_until
from tests.cases import MINIMAL, load, merged

RESYNC = 30.0  # `farflow run`'s defaults
AWS_RECHECK = 300.0


def settle_wait(clusters: int) -> float:
    """Seconds to wait for every cluster to settle, past the 120 s goal."""
    return max(300.0, 3.0 * clusters)


def run(stack: Stack, clusters: int, namespaces: int, progress: Progress) -> list[Table]:
    command = (
        f".venv/bin/python -m bench scale --scale-clusters {clusters} "
        f"--scale-namespaces {namespaces}"
    )
    task = progress.add_task(f"scale: {clusters} clusters", total=4)
    spaces = [stack.namespace(f"bench-scale-{i:02d}") for i in range(namespaces)]
    running = stack.operator("scale", spaces, resync=RESYNC, aws_recheck=AWS_RECHECK)
    progress.advance(task)
    settle, seen = _apply_all(stack, spaces, clusters)
    progress.advance(task)
    rest = _at_rest(stack, clusters, progress)
    progress.advance(task)
    repair = _repair(stack, spaces[0])
    peak, now = peak_rss_mib(running)
    progress.advance(task)
    stack.stop_operators()
    ready = sum(is_ready(body) for body in seen.values())
    took = seconds(settle) if settle is not None else f"not within {settle_wait(clusters):g} s"
    rows = [
        ("every cluster settled once (Ready, or held by PodLogsReady alone)", took, "≤ 120 s"),
        ("clusters settled, and of them Ready", f"{len(seen)}, {ready} of {clusters}", "all"),
        ("operator peak RSS (VmHWM)", f"{peak:.0f} MiB", "< 250 MB"),
        ("operator RSS at rest", f"{now:.0f} MiB", "—"),
        *rest,
        ("a deleted Deployment repaired", seconds(repair), f"≤ one resync ({RESYNC:g} s)"),
    ]
    table = Table(
        f"Scale: {clusters} AirflowClusters in {namespaces} namespaces, one operator",
        ("measure", "value", "goal", "command"),
        [(*row, f"`{command}`") for row in rows],
    )
    table.notes = [
        f"`farflow run` with its defaults (--resync-seconds {RESYNC:g}, --aws-recheck-seconds "
        f"{AWS_RECHECK:g}, --autoscale-seconds 5), watching the {namespaces} namespaces. Each "
        "cluster has its own SQS queues and log group in moto. Three kwok nodes of 1000 vCPU, "
        "4 TiB and 1500 pods each stand for Fargate's node per pod. Settled: from just before "
        "`kubectl apply` of every cluster. Pod logs: EKS's 5300-character limit on the "
        "shared aws-observability/aws-logging ConfigMap holds about 18 clusters' blocks; a "
        "cluster past it waits for PodLogsReady alone, and counts as settled.",
    ]
    return [table]


def _apply_all(
    stack: Stack, spaces: list[str], clusters: int
) -> tuple[float | None, dict[str, Any]]:
    """Every cluster applied at once; seconds until each has settled once (a cluster that
    settles and unsettles again counts from its first time; None: not all did in time), and
    the clusters that did."""
    per = [clusters // len(spaces) + (i < clusters % len(spaces)) for i in range(len(spaces))]
    documents = [
        merged(load(MINIMAL), {"metadata": {"name": f"c{index:03d}", "namespace": namespace}})
        for namespace, count in zip(spaces, per, strict=True)
        for index in range(count)
    ]
    first: dict[str, Any] = {}

    def done(current: dict[str, Any]) -> bool:
        first.update({key: body for key, body in current.items() if settled(body)})
        return len(first) == clusters

    start, timeout = time.time(), settle_wait(clusters)
    stack.cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents))
    try:
        end = watch_until(clusters_call(stack.api), done, timeout, f"{clusters} clusters settled")
    except TimeoutError:
        return None, first
    return end - start, first


def _at_rest(stack: Stack, clusters: int, progress: Progress) -> list[tuple[str, str, str]]:
    """Requests and calls per minute over two resyncs, after one to settle."""
    task = progress.add_task("scale: at rest", total=3 * RESYNC)
    pause(progress, task, RESYNC)
    since, before = time.time(), len(stack.proxy.calls)
    pause(progress, task, 2 * RESYNC)
    minutes = (time.time() - since) / 60
    requests = stack.operator_requests(since, time.time())
    apps = [call.app for call in stack.proxy.calls[before:] if call.app.startswith("farflow")]
    writes = [r for r in requests if r.write]
    return [
        ("Kubernetes requests per minute at rest", _per(len(requests), minutes, clusters), "—"),
        (
            "of them writes",
            f"{_per(len(writes), minutes, clusters)}: {tally([r.kind for r in writes])}",
            "0",
        ),
        (
            "AWS calls per minute by the reconcile",
            _per(apps.count("farflow"), minutes, clusters),
            "—",
        ),
        (
            "AWS calls per minute by the autoscaler",
            _per(apps.count("farflow-autoscaler"), minutes, clusters),
            "—",
        ),
    ]


def _per(count: int, minutes: float, clusters: int) -> str:
    return f"{count / minutes:.0f} ({count / minutes / clusters:.2f} per cluster)"


def _repair(stack: Stack, namespace: str) -> float:
    """Seconds from a cluster's scheduler Deployment deleted to a new one in its place."""
    apps, name = client.AppsV1Api(stack.api), "c000-scheduler"
    old = apps.read_namespaced_deployment(name, namespace).metadata.uid
    apps.delete_namespaced_deployment(name, namespace)
    start = time.time()

    def back(seen: dict[str, Any]) -> bool:
        body = seen.get(f"{namespace}/{name}")
        return body is not None and body["metadata"]["uid"] != old

    end = watch_until(
        partial(apps.list_namespaced_deployment, namespace),
        back,
        4 * RESYNC,
        f"{name} repaired",
        field_selector=f"metadata.name={name}",
    )
    return end - start
