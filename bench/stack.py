"""What every row runs on: the local control plane (tests/controlplane) and moto's server
behind the recording proxy (tests/fixtures), the operator as processes, and the two ways of
timing what happens there: the API server's audit log and watches."""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from kubernetes import client, config, watch

from tests.controlplane.localcluster import DEFAULT_STATE_DIR, LocalCluster, down, up
from tests.fixtures.aws import aws_environment, serve_aws
from tests.fixtures.aws_proxy import AwsProxy
from tests.fixtures.operator import (
    DB_URL,
    WRITES,
    Operator,
    Operators,
    create_secret,
    install_crds,
)

WORK = DEFAULT_STATE_DIR / "bench"
# On Fargate every pod gets a node of its own; three simulated nodes this large hold the
# pods of 200 small clusters (about 5 vCPU, 9 GiB and 8 pods each) without a Pending pod.
FARGATE_CAPACITY = {"cpu": "1000", "memory": "4Ti", "pods": "1500", "ephemeral-storage": "4Ti"}
GROUP, VERSION, PLURAL = "farflow.io", "v1alpha1", "airflowclusters"
OPERATOR_AGENTS = ("OpenAPI-Generator", "kopf")  # the operator's client, and kopf's
RESYNC = 5.0  # --resync-seconds unless a row says: short, so a row's rest takes a minute
AWS_RECHECK = 300.0  # `farflow run`'s default --aws-recheck-seconds


@dataclass
class Audit:
    """The audit log, read as it grows: when each object was first created (201), to the
    microsecond, by namespace, resource and name."""

    path: Path
    offset: int = 0
    created: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def read(self) -> None:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            self._record(json.loads(line))

    def _record(self, event: dict[str, Any]) -> None:
        ref = event.get("objectRef", {})
        if event.get("responseStatus", {}).get("code") != 201 or "subresource" in ref:
            return
        key = (ref.get("namespace", ""), ref.get("resource", ""), ref.get("name", ""))
        stamp = datetime.fromisoformat(event["stageTimestamp"]).timestamp()
        self.created.setdefault(key, stamp)

    def last_created(self, namespace: str, objects: set[tuple[str, str]]) -> float:
        """When the last of ``objects`` (resource, name) in ``namespace`` was created."""
        self.read()
        return max(self.created[(namespace, resource, name)] for resource, name in objects)


@dataclass
class Stack:
    """One run's control plane, AWS, API client and audit log, and the operators started."""

    cluster: LocalCluster
    proxy: AwsProxy
    api: client.ApiClient
    audit: Audit
    running: list[Operator] = field(default_factory=list)

    @property
    def aws_env(self) -> dict[str, str]:
        return aws_environment(self.proxy)

    def sqs(self) -> Any:
        env = self.aws_env
        return boto3.client(
            "sqs",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )

    def namespace(self, name: str) -> str:
        """A new namespace with the database Secret of the minimal example."""
        self.cluster.kubectl("create", "namespace", name)
        self.cluster.kubectl(
            "-n", name, "wait", "--for=create", "--timeout=60s", "serviceaccount/default"
        )
        create_secret(self.cluster, name, "airflow-db", connection=DB_URL)
        return name

    def operator(
        self,
        label: str,
        namespaces: list[str],
        *extra: str,
        resync: float = RESYNC,
        aws_recheck: float = AWS_RECHECK,
    ) -> Operator:
        """`farflow run` for ``namespaces``, with ``extra`` arguments."""
        logs = WORK / "operators" / label
        logs.mkdir(parents=True)
        operators = Operators(self.cluster, namespaces, self.aws_env, logs)
        started = operators.start(*extra, resync=resync, aws_recheck=aws_recheck)
        self.running.append(started)
        return started

    def stop_operators(self) -> None:
        for running in self.running:
            running.process.stop()
        self.running.clear()

    def operator_requests(self, since: float, until: float) -> list[Request]:
        """Each request the operators made in [since, until), watches apart (long-lived
        streams, not per-pass reads)."""
        found = []
        for event in self.cluster.audit_events():
            stamp = datetime.fromisoformat(event["stageTimestamp"]).timestamp()
            if (
                since <= stamp < until
                and event.get("userAgent", "").startswith(OPERATOR_AGENTS)
                and event.get("verb") != "watch"
            ):
                ref = event.get("objectRef", {})
                where = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
                found.append(Request(event["verb"], ref.get("resource", ""), where))
        return found


@dataclass(frozen=True)
class Request:
    """One Kubernetes request, as the audit log names it."""

    verb: str
    resource: str
    name: str  # namespace/name

    @property
    def write(self) -> bool:
        return self.verb in WRITES

    @property
    def kind(self) -> str:
        return f"{self.verb} {self.resource}"

    @property
    def target(self) -> str:
        return f"{self.verb} {self.resource} {self.name}"


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    """The control plane and moto for one run, in .farflow/bench (logs kept until the next)."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    cluster = up(WORK / "controlplane", node_resources=FARGATE_CAPACITY)
    made: Stack | None = None
    try:
        install_crds(cluster)
        with contextlib.contextmanager(serve_aws)(WORK / "moto.log", None) as proxy:
            api = config.new_client_from_config(str(cluster.kubeconfig))
            made = Stack(cluster, proxy, api, Audit(cluster.audit_log))
            yield made
    finally:
        if made is not None:
            made.stop_operators()
        down(WORK / "controlplane")


def watch_until(
    list_call: Callable[..., Any],
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    what: str,
    **kw: Any,
) -> float:
    """Watches what ``list_call`` lists until ``done`` holds for the objects seen (by
    namespace/name); returns the time (time.time()) of the event that made it hold."""
    seen: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    stream = watch.Watch()
    while (left := deadline - time.monotonic()) > 0:
        events = stream.stream(
            list_call, timeout_seconds=max(1, int(left)), deserialize=False, **kw
        )
        for event in events:
            meta = event["object"]["metadata"]
            key = f"{meta.get('namespace', '')}/{meta['name']}"
            if event["type"] == "DELETED":
                seen.pop(key, None)
            else:
                seen[key] = event["object"]
            if done(seen):
                stream.stop()
                return time.time()
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")


def clusters_call(api: client.ApiClient, namespace: str | None = None) -> Callable[..., Any]:
    """The list call of AirflowClusters in ``namespace`` (or every namespace), for watches."""
    custom = client.CustomObjectsApi(api)
    if namespace is None:
        return lambda **kw: custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kw)
    return lambda **kw: custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, **kw
    )


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [c for c in (body.get("status") or {}).get("conditions", []) if c["type"] == kind]
    return found[0] if found else {}


def is_ready(body: dict[str, Any] | None) -> bool:
    return body is not None and condition(body, "Ready").get("status") == "True"


# EKS caps the shared aws-observability/aws-logging ConfigMap at 5300 characters: past about
# 16 clusters a new one's pod logs cannot be routed, and it waits for PodLogsReady alone.
LOGS_FULL = "waiting for PodLogsReady"


def settled(body: dict[str, Any] | None) -> bool:
    """Ready, or held by nothing but the shared log router's limit."""
    return is_ready(body) or (
        body is not None and condition(body, "Ready").get("message") == LOGS_FULL
    )


def peak_rss_mib(running: Operator) -> tuple[float, float]:
    """The operator process's peak and current resident memory (VmHWM, VmRSS), in MiB."""
    assert running.process.popen is not None
    status = Path(f"/proc/{running.process.popen.pid}/status").read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(values["VmHWM"].split()[0]) / 1024, int(values["VmRSS"].split()[0]) / 1024
