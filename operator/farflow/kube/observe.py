"""Reading back what the cluster's children report: the migration Job, the Deployments, the
Service's address and the Fargate profiles its pods are on."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from farflow.kube.client import Kube
from farflow.objects import (
    EKS_PROFILE_ANNOTATION,
    OWNER_LABEL,
    PROFILE_LABEL,
    VERSION_LABEL,
    Manifest,
)

JobPhase = Literal["Missing", "Running", "Complete", "Failed"]
MESSAGE_CHARS = 2000  # of a container's termination message shown in a condition
STALL_SECONDS = 30.0


@dataclass(frozen=True)
class JobState:
    phase: JobPhase
    reason: str = ""
    message: str = ""
    failed_at: datetime.datetime | None = None


@dataclass(frozen=True)
class DeploymentState:
    desired: int
    ready: int
    rolled_out: bool  # the current template runs on every desired replica
    version: str | None = None  # the Airflow version of the template (its version label)

    @property
    def available(self) -> bool:
        return self.rolled_out and self.ready >= self.desired


def job(kube: Kube, name: str, namespace: str) -> JobState:
    live = kube.get("batch/v1", "Job", name, namespace)
    if live is None:
        return JobState("Missing")
    for condition in live.get("status", {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition["type"] == "Complete":
            return JobState("Complete")
        if condition["type"] == "Failed":
            since = condition.get("lastTransitionTime")
            failed_at = datetime.datetime.fromisoformat(since) if since else None
            return JobState(
                "Failed", condition.get("reason", ""), condition.get("message", ""), failed_at
            )
    return JobState("Running")


def deployment(kube: Kube, name: str, namespace: str) -> DeploymentState:
    live = kube.get("apps/v1", "Deployment", name, namespace)
    if live is None:
        return DeploymentState(desired=0, ready=0, rolled_out=False)
    return deployment_state(live)


def deployment_state(live: Manifest) -> DeploymentState:
    desired = live.get("spec", {}).get("replicas", 1)
    status = live.get("status", {})
    current = status.get("observedGeneration", 0) >= live["metadata"].get("generation", 0)
    updated = status.get("updatedReplicas", 0) >= desired
    stale = status.get("replicas", 0) > desired  # old pods still terminating
    labels = live["spec"].get("template", {}).get("metadata", {}).get("labels", {})
    return DeploymentState(
        desired=desired,
        ready=status.get("readyReplicas", 0),
        rolled_out=current and updated and not stale,
        version=labels.get(VERSION_LABEL),
    )


def deployment_pods(kube: Kube, live: Manifest) -> list[Manifest]:
    """The pods the live Deployment selects."""
    labels = live["spec"]["selector"]["matchLabels"]
    selector = ",".join(f"{key}={value}" for key, value in labels.items())
    return kube.list("v1", "Pod", live["metadata"]["namespace"], selector)


def stalled(live: Manifest, now: datetime.datetime) -> bool:
    """Whether a Deployment that is not available has made no progress (no new pod made or
    ready) for STALL_SECONDS: then its pods are worth reading for why."""
    for condition in live.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("lastUpdateTime"):
            since = datetime.datetime.fromisoformat(condition["lastUpdateTime"])
            return (now - since).total_seconds() >= STALL_SECONDS
    return False


def start_failure(pods: Iterable[Manifest]) -> str | None:
    """Why a component's pods do not start, from the newest pod one of whose containers (an
    init container first) exited non-zero: that container, its exit code and its termination
    message (farflow_bootstrap's, farflow_preflight's, farflow_startup's). None without one."""
    newest = sorted(pods, key=lambda pod: pod["metadata"].get("creationTimestamp") or "")
    for pod in reversed(newest):
        status = pod.get("status") or {}
        kinds = ("initContainerStatuses", "containerStatuses")
        for container in [c for kind in kinds for c in status.get(kind) or []]:
            ended = _failed_run(container)
            if ended is not None:
                message = (ended.get("message") or ended.get("reason") or "").strip()
                said = f"pod {pod['metadata']['name']}: {container['name']} exited "
                return said + f"{ended.get('exitCode')}: {message[-MESSAGE_CHARS:]}"
    return None


def _failed_run(container: Manifest) -> Manifest | None:
    """The container's run that exited non-zero, now or just before a restart."""
    for state in (container.get("state"), container.get("lastState")):
        ended = (state or {}).get("terminated")
        if ended and ended.get("exitCode", 0) != 0:
            return dict(ended)
    return None


def service_url(kube: Kube, name: str, namespace: str, port: int) -> str | None:
    """The load balancer's address once it has one (https:// when it serves TLS, its port
    named https), else the in-cluster address; None for a TLS-only Service without one."""
    live = kube.get("v1", "Service", name, namespace)
    if live is None:
        return None
    return load_balancer_url(live, port) or (
        None if _serves_tls(live) else f"http://{name}.{namespace}.svc.cluster.local:{port}"
    )


def load_balancer_url(live: Manifest, port: int) -> str | None:
    """The address of a Service's load balancer (the AWS Load Balancer Controller writes it
    into the Service's status); None until it has one."""
    ingress = (live.get("status", {}).get("loadBalancer", {}).get("ingress") or [{}])[0]
    host = ingress.get("hostname") or ingress.get("ip")
    if not host:
        return None
    return f"https://{host}" if _serves_tls(live) else f"http://{host}:{port}"


def _serves_tls(live: Manifest) -> bool:
    return any(p.get("name") == "https" for p in live.get("spec", {}).get("ports") or [])


def fargate_profiles(kube: Kube, namespaces: Iterable[str], owner: str) -> set[str]:
    """The Fargate profiles the cluster's pods that have not finished are on: the profile EKS
    scheduled each through, or the one its label asks for while it is not scheduled yet."""
    found = set()
    for namespace in sorted(set(namespaces)):
        for pod in kube.list("v1", "Pod", namespace, f"{OWNER_LABEL}={owner}"):
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                continue
            meta = pod["metadata"]
            profile = (meta.get("annotations") or {}).get(EKS_PROFILE_ANNOTATION)
            profile = profile or (meta.get("labels") or {}).get(PROFILE_LABEL)
            if profile:
                found.add(profile)
    return found
