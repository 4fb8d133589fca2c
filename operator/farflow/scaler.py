"""The worker autoscaler of one cluster: every few seconds it reads each worker pool's Celery
demand from the pool's SQS queues, decides (`farflow.autoscale`) and sets the pool's replicas
with a field manager of its own, so the reconcile never resets them. Its last look (waiting,
running, reason) goes into status.workers (a named pool's under pools), which the reconcile
carries over."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError

from farflow import airflow_api, airflow_objects
from farflow.api import parse, resolve
from farflow.api.names import WORKER, pool_component
from farflow.api.resolve import ResolvedCluster, ResolvedWorkerPool
from farflow.api.status import PoolStatus, WorkersStatus
from farflow.autoscale import Demand, History, Policy, decide
from farflow.aws import sqs
from farflow.aws.session import AwsError
from farflow.kube import events, observe
from farflow.kube.client import Kube
from farflow.objects import AUTOSCALER_FIELD_MANAGER, Manifest
from farflow.plan import admin_password
from farflow.plan.config import in_cluster_url

log = logging.getLogger(__name__)
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"  # lowest removed first
NO_LOOK: dict[str, Any] = {"waiting": None, "running": None, "reason": None}
Observed = TypeVar("Observed", bound=PoolStatus)


@dataclass
class Autoscaler:
    """One cluster's autoscaler; remembers each pool's demand over its scale-down delay."""

    histories: dict[str, History] = field(default_factory=dict)  # by component

    def step(self, body: dict[str, Any], kube: Kube) -> None:
        """One look at each autoscaled pool's queues, and its replicas set if the decision
        changed them."""
        cluster = _valid(body)
        aws = (body.get("status") or {}).get("aws") or {}
        scaled = _scaled_pools(cluster, aws.get("queueUrls") or {})
        looks = {
            pool.component: self._pool_step(kube, body, pool, aws["region"]) for pool in scaled
        }
        for component in set(self.histories) - set(looks):  # start afresh when scaled again
            del self.histories[component]
        named = [pool.name for pool in cluster.spec.workers.pools] if cluster is not None else []
        _show(kube, body, looks, named)

    def _pool_step(
        self, kube: Kube, body: dict[str, Any], pool: _Pool, region: str
    ) -> dict[str, Any]:
        """One pool's look at its queues, and its replicas set if the decision changed."""
        names = pool.cluster.names
        live = kube.get("apps/v1", "Deployment", names.of(pool.component), names.namespace)
        if live is None:  # the rollout has not reached these workers yet
            return NO_LOOK
        current = live["spec"].get("replicas", 1)
        try:
            waiting, running = sqs.demand(region, pool.urls)
        except AwsError as error:  # the replicas stay; status says why
            return {**NO_LOOK, "reason": f"workers kept at {current}: {error}"}
        replicas, reason = self._decide(pool, current, Demand(time.monotonic(), waiting, running))
        if replicas < current and running:
            replicas, reason = _idlest_first(kube, pool.cluster, live, replicas, reason)
        if replicas != current:
            _scale(kube, live, replicas)
            which = f"{pool.cluster.qualified_name} {pool.component}"
            log.info("%s: %d -> %d: %s", which, current, replicas, reason)
            message = f"{pool.component}: {current} -> {replicas} workers: {reason}"
            events.emit(kube, body, "WorkersScaled", message)
        ready = (live.get("status") or {}).get("readyReplicas", 0)
        look = {"waiting": waiting, "running": running, "reason": reason}
        return {**look, "desired": replicas, "readyOfDesired": f"{ready}/{replicas}"}

    def _decide(self, pool: _Pool, current: int, look: Demand) -> tuple[int, str]:
        settings = pool.settings
        policy = Policy(
            min_replicas=settings.min_replicas,
            max_replicas=settings.max_replicas,
            tasks_per_worker=settings.autoscaling.tasks_per_worker,
            scale_down_delay=settings.autoscaling.scale_down_delay_seconds,
        )
        history = self.histories.get(pool.component) or History(since=look.at)
        self.histories[pool.component] = history.add(look, policy.scale_down_delay)
        decision = decide(policy, current, self.histories[pool.component])
        return decision.replicas, decision.reason


@dataclass(frozen=True)
class _Pool:
    """One pool of a cluster's workers, as the autoscaler scales it."""

    cluster: ResolvedCluster
    component: str  # its Deployment's: worker, or worker-<name>
    settings: ResolvedWorkerPool
    urls: list[str]  # of its SQS queues


def _valid(body: dict[str, Any]) -> ResolvedCluster | None:
    """The resolved cluster, if its spec is valid (an invalid one is the reconcile's to
    report)."""
    try:
        return resolve(parse(body))
    except ValidationError:
        return None


def _scaled_pools(cluster: ResolvedCluster | None, urls: Mapping[str, str]) -> list[_Pool]:
    """The pools FarFlow scales now: autoscaled, in a cluster not suspended, with the URL of
    each of their queues known."""
    if cluster is None or cluster.spec.suspend:
        return []
    return [
        _Pool(cluster, component, pool, [urls[queue] for queue in pool.queues])
        for component, pool in cluster.spec.workers.by_component().items()
        if pool.autoscaling.enabled and all(queue in urls for queue in pool.queues)
    ]


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
    namespace, busy = live["metadata"]["namespace"], 0
    for pod in observe.deployment_pods(kube, live):
        name = pod["metadata"]["name"]
        cost = str(running.get(name, 0))
        busy += cost != "0"
        if (pod["metadata"].get("annotations") or {}).get(DELETION_COST) != cost:
            kube.annotate("v1", "Pod", name, namespace, {DELETION_COST: cost})
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


def _show(
    kube: Kube, body: dict[str, Any], looks: Mapping[str, dict[str, Any]], named: list[str]
) -> None:
    """Each pool's look (by component) in status.workers, a named pool's under pools (a pool
    not scaled now shows none), written only where it differs from what status shows."""
    shown = (body.get("status") or {}).get("workers") or {}
    patch = dict(looks.get(WORKER, NO_LOOK))
    shown_pools = shown.get("pools") or {}
    stale = {
        name: look
        for name in named
        if _differs(shown_pools.get(name) or {}, look := looks.get(pool_component(name), NO_LOOK))
    }
    if stale:
        patch["pools"] = stale
    if stale or _differs(shown, patch):
        kube.merge_status(body, {"workers": patch})


def _differs(shown: Mapping[str, Any], look: Mapping[str, Any]) -> bool:
    return any(shown.get(key) != value for key, value in look.items() if key != "pools")


def with_last_look(workers: WorkersStatus, previous: WorkersStatus | None) -> WorkersStatus:
    """``workers`` as a reconcile observed them, with the autoscaler's last look kept, for
    the default pool and for each named pool."""
    if previous is None:
        return workers
    pools = {
        name: _last_look(pool, previous.pools.get(name)) for name, pool in workers.pools.items()
    }
    return _last_look(workers, previous).model_copy(update={"pools": pools})


def _last_look(pool: Observed, previous: PoolStatus | None) -> Observed:
    if previous is None:
        return pool
    look = {"waiting": previous.waiting, "running": previous.running, "reason": previous.reason}
    return pool.model_copy(update=look)
