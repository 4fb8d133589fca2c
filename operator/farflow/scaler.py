"""The worker autoscaler of one cluster: every few seconds it reads the Celery demand from
the cluster's SQS queues, decides (`farflow.autoscale`) and sets the workers' replicas with
a field manager of its own, so the reconcile never resets them. Its last look (waiting,
running, reason) goes into status.workers, which the reconcile carries over."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from farflow.api import parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.api.status import WorkersStatus
from farflow.autoscale import Demand, History, Policy, decide
from farflow.aws import sqs
from farflow.aws.session import AwsError
from farflow.kube import events
from farflow.kube.client import Kube
from farflow.objects import AUTOSCALER_FIELD_MANAGER, Manifest

log = logging.getLogger(__name__)


@dataclass
class Autoscaler:
    """One cluster's autoscaler; remembers the demand of the scale-down delay."""

    history: History | None = None

    def step(self, body: dict[str, Any], kube: Kube) -> None:
        """One look at the queues, and the replicas set if the decision changed them."""
        cluster = _autoscaled(body)
        aws = (body.get("status") or {}).get("aws") or {}
        urls = list((aws.get("queueUrls") or {}).values())
        if cluster is None or not urls:
            self.history = None  # nothing to scale: start afresh when there is
            _show(kube, body, {"waiting": None, "running": None, "reason": None})
            return
        names = cluster.names
        live = kube.get("apps/v1", "Deployment", names.of("worker"), names.namespace)
        if live is None:  # the rollout has not reached the workers yet
            return
        current = live["spec"].get("replicas", 1)
        try:
            waiting, running = sqs.demand(aws["region"], urls)
        except AwsError as error:  # the replicas stay; status says why
            reason = f"workers kept at {current}: {error}"
            _show(kube, body, {"waiting": None, "running": None, "reason": reason})
            return
        replicas, reason = self._decide(
            cluster, current, Demand(time.monotonic(), waiting, running)
        )
        if replicas != current:
            _scale(kube, live, replicas)
            log.info("%s: workers %d -> %d: %s", cluster.qualified_name, current, replicas, reason)
            events.emit(kube, body, "WorkersScaled", f"{current} -> {replicas} workers: {reason}")
        ready = (live.get("status") or {}).get("readyReplicas", 0)
        look = {"waiting": waiting, "running": running, "reason": reason}
        _show(kube, body, {**look, "desired": replicas, "readyOfDesired": f"{ready}/{replicas}"})

    def _decide(self, cluster: ResolvedCluster, current: int, look: Demand) -> tuple[int, str]:
        workers = cluster.spec.workers
        policy = Policy(
            min_replicas=workers.min_replicas,
            max_replicas=workers.max_replicas,
            tasks_per_worker=workers.autoscaling.tasks_per_worker,
            scale_down_delay=workers.autoscaling.scale_down_delay_seconds,
        )
        history = self.history or History(since=look.at)
        self.history = history.add(look, policy.scale_down_delay)
        decision = decide(policy, current, self.history)
        return decision.replicas, decision.reason


def _autoscaled(body: dict[str, Any]) -> ResolvedCluster | None:
    """The resolved cluster, if FarFlow scales its workers now (a valid spec, not suspended,
    autoscaling on); an invalid spec is the reconcile's to report."""
    try:
        cluster = resolve(parse(body))
    except ValidationError:
        return None
    spec = cluster.spec
    return cluster if spec.workers.autoscaling.enabled and not spec.suspend else None


def _scale(kube: Kube, live: Manifest, replicas: int) -> None:
    meta = live["metadata"]
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {"replicas": replicas},
    }
    kube.apply(manifest, AUTOSCALER_FIELD_MANAGER)


def _show(kube: Kube, body: dict[str, Any], look: dict[str, Any]) -> None:
    """The look in status.workers, written only where it differs from what status shows."""
    shown = (body.get("status") or {}).get("workers") or {}
    if any(shown.get(key) != value for key, value in look.items()):
        kube.merge_status(body, {"workers": look})


def with_last_look(workers: WorkersStatus, previous: WorkersStatus | None) -> WorkersStatus:
    """``workers`` as a reconcile observed them, with the autoscaler's last look kept."""
    if previous is None:
        return workers
    look = {"waiting": previous.waiting, "running": previous.running, "reason": previous.reason}
    return workers.model_copy(update=look)
