"""The worker autoscaler of one cluster: every few seconds it reads the Celery demand from
the cluster's SQS queues, decides (`farflow.autoscale`) and sets the workers' replicas with
a field manager of its own, so the reconcile never resets them. Its last look (waiting,
running, reason) goes into status.workers, which the reconcile carries over."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from farflow import airflow_api, airflow_objects
from farflow.api import parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.api.status import WorkersStatus
from farflow.autoscale import Demand, History, Policy, decide
from farflow.aws import sqs
from farflow.aws.session import AwsError
from farflow.kube import events
from farflow.kube.client import Kube
from farflow.objects import AUTOSCALER_FIELD_MANAGER, Manifest
from farflow.plan import admin_password
from farflow.plan.config import in_cluster_url

log = logging.getLogger(__name__)
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"  # lowest removed first


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
        if replicas < current and running:
            replicas, reason = _idlest_first(kube, cluster, live, replicas, reason)
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


def _idlest_first(
    kube: Kube, cluster: ResolvedCluster, live: Manifest, replicas: int, reason: str
) -> tuple[int, str]:
    """Before a scale-in while tasks run: each worker pod's deletion cost set to the tasks
    it runs, from Airflow's record, so the ReplicaSet removes the idlest. When Airflow
    cannot tell which workers are busy, the workers stay as they are."""
    current = live["spec"].get("replicas", 1)
    ref = admin_password(cluster)
    password = airflow_objects.secret_value(kube, ref.name, cluster.names.namespace, ref.key)
    if password is None:
        return current, f"workers kept at {current}: Secret {ref.name} has no key {ref.key}"
    url = in_cluster_url(cluster.spec, cluster.names)
    try:
        running = airflow_api.running_by_host(
            airflow_api.Endpoint(url, cluster.spec.admin.username, password)
        )
    except airflow_api.ERRORS as error:
        why = airflow_api.described(error)
        return current, f"workers kept at {current}: Airflow cannot tell which run tasks ({why})"
    busy = mark_deletion_costs(kube, live, running)
    return replicas, f"{reason}; the idlest go first ({busy} of {current} run tasks)"


def mark_deletion_costs(kube: Kube, live: Manifest, running: Mapping[str, int]) -> int:
    """Each pod of the Deployment ``live`` gets the tasks it runs (``running``, by pod name)
    as its deletion cost, where that changed; returns how many run any."""
    meta = live["metadata"]
    labels = live["spec"]["selector"]["matchLabels"]
    selector = ",".join(f"{key}={value}" for key, value in labels.items())
    busy = 0
    for pod in kube.list("v1", "Pod", meta["namespace"], selector):
        name = pod["metadata"]["name"]
        cost = str(running.get(name, 0))
        busy += cost != "0"
        if (pod["metadata"].get("annotations") or {}).get(DELETION_COST) != cost:
            kube.annotate("v1", "Pod", name, meta["namespace"], {DELETION_COST: cost})
    return busy


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
