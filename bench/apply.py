"""`kubectl apply` of the minimal AirflowCluster -> every child object exists, and -> Ready,
beside `kubectl apply` and `helm install` of the objects `farflow render` prints for it; then
what the settled clusters cost at rest, per resync."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import yaml
from kubernetes import client
from rich.progress import Progress

from bench.report import Table, p50_p95, pause, seconds, tally
from bench.stack import (
    AWS_RECHECK,
    RESYNC,
    WORK,
    Stack,
    clusters_call,
    settled,
    watch_until,
)
from farflow.api import parse
from farflow.objects import Manifest
from farflow.render import rendered
from tests.cases import MINIMAL, load, merged
from tests.controlplane.localcluster import BIN_DIR
from tests.fixtures.aws import REGION
from tests.fixtures.operator import children

READY_TIMEOUT = 300.0
WAYS = ("operator", "kubectl", "helm")


def resource(kind: str) -> str:
    """The API's plural of ``kind``, as the audit log names it."""
    lower = kind.lower()
    return lower[:-1] + "ies" if lower.endswith("y") else lower + "s"


def objects_of(namespace: str) -> list[Manifest]:
    """What `farflow render` prints for the minimal example in ``namespace``, without the
    owner reference (its owner does not exist here: the garbage collector would delete it)."""
    where = {"metadata": {"namespace": namespace}, "spec": {"aws": {"region": REGION}}}
    manifest = merged(load(MINIMAL), where)
    found = rendered(parse(manifest), "0" * 12)
    for item in found:
        item["metadata"].pop("ownerReferences", None)
    return found


def named(objects: list[Manifest]) -> set[tuple[str, str]]:
    return {(resource(item["kind"]), item["metadata"]["name"]) for item in objects}


Times = tuple[float, float, float]  # seconds to the last child but the Deployments, the last, Ready


def via_operator(stack: Stack, namespace: str) -> Times:
    """Seconds from `kubectl apply` of the AirflowCluster to its children, and to Ready."""
    start = time.time()
    stack.cluster.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(load(MINIMAL)))
    ready = watch_until(
        clusters_call(stack.api, namespace),
        lambda seen: settled(seen.get(f"{namespace}/minimal")),
        READY_TIMEOUT,
        f"the AirflowCluster in {namespace} Ready (or held by the log router's limit alone)",
    )
    made = {(resource(kind), name) for kind, name in children(stack.cluster, namespace)}
    return (*_made(stack, namespace, made, start), ready - start)


def _made(
    stack: Stack, namespace: str, made: set[tuple[str, str]], start: float
) -> tuple[float, float]:
    """Seconds to the last of ``made`` but the Deployments (which a rollout stages), and to
    the last of all."""
    early = {(kind, name) for kind, name in made if kind != "deployments"}
    audit = stack.audit
    return audit.last_created(namespace, early) - start, audit.last_created(namespace, made) - start


def via_kubectl(stack: Stack, namespace: str) -> Times:
    objects = objects_of(namespace)
    start = time.time()
    stack.cluster.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump_all(objects))
    return _settled(stack, namespace, objects, start)


def via_helm(stack: Stack, namespace: str) -> Times:
    """`helm install` of a chart whose one template is the rendered objects, read as a file
    (the Airflow configuration holds braces that Helm would take for its own)."""
    objects = objects_of(namespace)
    chart = WORK / "charts" / namespace
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: rendered\nversion: 0.1.0\n")
    (chart / "objects.yaml").write_text(yaml.safe_dump_all(objects))
    (chart / "templates" / "objects.yaml").write_text('{{ .Files.Get "objects.yaml" }}\n')
    argv = [str(BIN_DIR / "helm"), "install", "rendered", str(chart), "-n", namespace]
    start = time.time()
    subprocess.run(
        [*argv, f"--kubeconfig={stack.cluster.kubeconfig}"], check=True, capture_output=True
    )
    return _settled(stack, namespace, objects, start)


def _settled(stack: Stack, namespace: str, objects: list[Manifest], start: float) -> Times:
    """Seconds to the last object and to every Job complete and Deployment available, the
    plain objects' Ready."""
    names = {kind: {o["metadata"]["name"] for o in objects if o["kind"] == kind} for kind in WANTED}
    calls = {
        "Job": client.BatchV1Api(stack.api).list_namespaced_job,
        "Deployment": client.AppsV1Api(stack.api).list_namespaced_deployment,
    }
    ready = [  # one after the other: each holds for good once it holds
        watch_until(
            partial(call, namespace),
            _all_of(names[kind], namespace, WANTED[kind]),
            READY_TIMEOUT,
            f"every {kind} in {namespace} done",
        )
        for kind, call in calls.items()
    ]
    return (*_made(stack, namespace, named(objects), start), ready[-1] - start)


def _job_done(body: dict[str, Any]) -> bool:
    return bool((body.get("status") or {}).get("succeeded"))


def _available(body: dict[str, Any]) -> bool:
    status, wanted = body.get("status") or {}, body["spec"].get("replicas", 1)
    return bool(
        status.get("availableReplicas", 0) >= wanted and status.get("updatedReplicas", 0) >= wanted
    )


WANTED: dict[str, Callable[[dict[str, Any]], bool]] = {"Job": _job_done, "Deployment": _available}


def _all_of(
    names: set[str], namespace: str, holds: Callable[[dict[str, Any]], bool]
) -> Callable[[dict[str, Any]], bool]:
    def done(seen: dict[str, Any]) -> bool:
        return all(
            f"{namespace}/{name}" in seen and holds(seen[f"{namespace}/{name}"]) for name in names
        )

    return done


MEASURES: dict[str, Callable[[Stack, str], Times]] = {
    "operator": via_operator,
    "kubectl": via_kubectl,
    "helm": via_helm,
}
LABELS = {
    "operator": "`kubectl apply` of the AirflowCluster (the operator)",
    "kubectl": "`kubectl apply` of what `farflow render` prints",
    "helm": "`helm install` of what `farflow render` prints",
}
REST_RESYNCS = 12


def run(stack: Stack, clusters: int, progress: Progress) -> list[Table]:
    """The three ways, one cluster at a time and interleaved, so each sees the same load."""
    command = f".venv/bin/python -m bench apply --clusters {clusters}"
    task = progress.add_task("apply: namespaces", total=clusters * len(WAYS))
    spaces = {way: [f"bench-{way}-{i:02d}" for i in range(clusters)] for way in WAYS}
    for way in WAYS:
        for name in spaces[way]:
            stack.namespace(name)
    stack.operator("apply", spaces["operator"])
    progress.update(task, description="apply: operator, kubectl, helm")
    samples: dict[str, list[Times]] = {way: [] for way in WAYS}
    for index in range(clusters):
        for way in WAYS:
            samples[way].append(MEASURES[way](stack, spaces[way][index]))
            progress.advance(task)
    tables = [_apply_table(samples, command), at_rest(stack, clusters, command, progress)]
    for namespace in spaces["operator"]:  # their log blocks would hold the next rows' clusters
        stack.cluster.kubectl("-n", namespace, "delete", "airflowclusters", "--all", timeout=300)
    stack.stop_operators()
    return tables


def _apply_table(samples: dict[str, list[Times]], command: str) -> Table:
    table = Table(
        "Apply: every child object exists, and Ready",
        (
            "path",
            "children but Deployments p50",
            "p95",
            "every child p50",
            "p95",
            "Ready p50",
            "p95",
            "clusters",
            "command",
        ),
    )
    for way in WAYS:
        cells: list[str] = []
        for index, measure in enumerate(("early", "children", "ready")):
            values = [times[index] for times in samples[way]]
            cells += [seconds(value) for value in p50_p95(values)]
            table.samples[f"{way} {measure}"] = values
        table.rows.append((LABELS[way], *cells, str(len(samples[way])), f"`{command}`"))
    table.notes = [
        "From just before the command. Children: the last first-201 of the objects, in the "
        "API server's audit log; the operator applies the Deployments after the migration "
        "Job has completed, stage by stage; the plain objects come all at once. Ready: the "
        "AirflowCluster's Ready condition (past about 16 clusters, the limit of EKS's shared "
        "aws-logging ConfigMap, its Ready=False held by PodLogsReady alone); for the plain "
        "objects, the migration Job complete and every Deployment available (kwok's pods), "
        "seen through watches. One cluster at a time, the three ways in turn; goal: children "
        f"within 1 s. The operator runs with --resync-seconds {RESYNC:g} and "
        f"--aws-recheck-seconds {AWS_RECHECK:g}, with AWS (SQS queues, log group, Secrets "
        "Manager) in moto behind the recording proxy."
    ]
    return table


def at_rest(stack: Stack, clusters: int, command: str, progress: Progress) -> Table:
    """What the settled clusters of the apply row cost over REST_RESYNCS resyncs."""
    window = REST_RESYNCS * RESYNC
    task = progress.add_task("at rest: settling, then counting", total=2 * RESYNC + window)
    pause(progress, task, 2 * RESYNC)
    since, before = time.time(), len(stack.proxy.calls)
    pause(progress, task, window)
    requests = stack.operator_requests(since, time.time())
    calls = [call.app for call in stack.proxy.calls[before:] if call.app.startswith("farflow")]
    passes = clusters * window / RESYNC
    writes = [r for r in requests if r.write]
    table = Table(
        "At rest: per settled cluster per resync",
        ("measure", "per cluster per resync", "goal", f"total in {window:g} s", "command"),
    )
    for label, count, goal in (
        ("Kubernetes requests", len(requests), "≤ 5"),
        ("of them writes", len(writes), "0"),
        ("AWS calls by the reconcile", calls.count("farflow"), "≤ 2"),
        ("AWS calls by the autoscaler", calls.count("farflow-autoscaler"), "—"),
    ):
        table.rows.append((label, f"{count / passes:.2f}", goal, str(count), f"`{command}`"))
    table.notes = [
        f"{clusters} clusters, resync every {RESYNC:g} s. Requests: "
        f"{tally([r.kind for r in requests])}. Writes: "
        f"{tally([r.target for r in writes])}."
    ]
    return table
