"""What deleting an AirflowCluster must remove by hand: everything owner references cannot
reach. One list of parts, each saying whether a cluster has it and how to remove it, so the
finalizer and the cleanup can never disagree about what a deletion must wait for.

Every AirflowCluster carries the finalizer (`farflow.objects.FINALIZER`): kopf adds it before
any handler runs, since the resync timer and the deletion handler both require it, so no part
below is ever created before deletion is blocked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from farflow.api.resolve import ResolvedCluster
from farflow.aws.cleanup import remove_aws
from farflow.kube.apply import prune
from farflow.kube.client import Kube
from farflow.kube.log_routing import sync_logging
from farflow.manifests import prune_selectors


@dataclass(frozen=True)
class Part:
    """Something a cluster may have outside its owner's reach."""

    what: str
    present: Callable[[ResolvedCluster], bool]
    remove: Callable[[ResolvedCluster, Kube], bool]  # True once it is gone


def _in_task_namespace(cluster: ResolvedCluster) -> bool:
    """Objects in another namespace cannot have the AirflowCluster as their owner."""
    return cluster.spec.pods.namespace != cluster.namespace


def _remove_task_namespace_objects(cluster: ResolvedCluster, kube: Kube) -> bool:
    selectors = prune_selectors(cluster.names, cluster.spec.pods.namespace)
    task_namespace = cluster.spec.pods.namespace
    prune(kube, {task_namespace: selectors[task_namespace]}, [])
    return True


def _routes_pod_logs(cluster: ResolvedCluster) -> bool:
    return cluster.spec.logging.cloudwatch.enabled


def _remove_log_routing(cluster: ResolvedCluster, kube: Kube) -> bool:
    return sync_logging(kube, cluster.qualified_name, None)


PARTS = (
    Part("objects in the task namespace", _in_task_namespace, _remove_task_namespace_objects),
    Part("the pod log routing", _routes_pod_logs, _remove_log_routing),
    # Every cluster keeps at least its shared keys in Secrets Manager.
    Part("AWS resources", lambda _: True, lambda cluster, _: remove_aws(cluster)),
)


def outside_owner(cluster: ResolvedCluster) -> list[Part]:
    """The parts of ``cluster`` its deletion must remove."""
    return [part for part in PARTS if part.present(cluster)]


AWS = PARTS[-1]


def clean_up(cluster: ResolvedCluster, kube: Kube, *, skip_aws: bool = False) -> bool:
    """One pass over every part (but AWS with ``skip_aws``); True once all are gone."""
    parts = [part for part in outside_owner(cluster) if not (skip_aws and part is AWS)]
    done = [part.remove(cluster, kube) for part in parts]
    return all(done)
