"""Who may run task pods where: a task namespace (spec.pods.namespace) other than the
cluster's own takes them only once it opts in, and FarFlow never takes over an object it did
not make there.

The opt-in is a label on the task namespace naming the namespace whose AirflowClusters may
use it, `tasks-from.farflow.io/<namespace>: "true"`; whoever may label namespaces (the
platform team) decides, not whoever may create an AirflowCluster. Without it, a cluster's
author could bind pod and exec rights in any namespace, kube-system included.
"""

from __future__ import annotations

from dataclasses import dataclass

from farflow.api.resolve import ResolvedCluster
from farflow.api.status import Condition, ConditionType
from farflow.kube.client import Kube
from farflow.objects import (
    CLUSTER_LABEL,
    FIELD_MANAGER,
    MANAGED_BY_LABEL,
    Manifest,
    made_by_farflow_for,
    owner_value,
)

TASKS_FROM = "tasks-from.farflow.io"
CONDITION: ConditionType = "TaskNamespaceReady"


def opt_in_label(namespace: str) -> str:
    """The label a task namespace carries to take task pods from ``namespace``."""
    return f"{TASKS_FROM}/{namespace}"


@dataclass(frozen=True)
class Admission:
    """Whether FarFlow may make the task pods' objects in the task namespace, and why."""

    allowed: bool
    condition: Condition


def admit(cluster: ResolvedCluster, kube: Kube) -> Admission:
    """Reads the task namespace and what FarFlow would make there."""
    refusal = _namespace_refusal(cluster, kube) or _taken(cluster, kube)
    if refusal is not None:
        return Admission(False, Condition.of(CONDITION, False, *refusal))
    pods = cluster.spec.pods
    message = f"KubernetesPodOperator pods run in {pods.namespace} as {pods.service_account_name}"
    return Admission(True, Condition.of(CONDITION, True, "Admitted", message))


def _namespace_refusal(cluster: ResolvedCluster, kube: Kube) -> tuple[str, str] | None:
    task_namespace = cluster.spec.pods.namespace
    if task_namespace == cluster.namespace:
        return None
    live = kube.get("v1", "Namespace", task_namespace, "")
    if live is None:
        return "TaskNamespaceNotFound", (
            f"spec.pods.namespace {task_namespace} does not exist; create it, labelled "
            f"{opt_in_label(cluster.namespace)}=true"
        )
    label = opt_in_label(cluster.namespace)
    if (live["metadata"].get("labels") or {}).get(label) != "true":
        return "TaskNamespaceNotAllowed", (
            f"namespace {task_namespace} does not take task pods from namespace "
            f"{cluster.namespace}: whoever may label namespaces can allow it with "
            f"`kubectl label namespace {task_namespace} {label}=true`"
        )
    return None


def _taken(cluster: ResolvedCluster, kube: Kube) -> tuple[str, str] | None:
    """A service account or binding of the name FarFlow would use that it did not make."""
    pods, names = cluster.spec.pods, cluster.names
    wanted = (
        ("v1", "ServiceAccount", pods.service_account_name,
         "name another one in spec.pods.serviceAccountName"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding",
         names.in_task_namespace(pods.namespace, "pod-operator"),
         "remove it, or use another spec.pods.namespace"),
    )  # fmt: skip
    for api_version, kind, name, fix in wanted:
        live = kube.get(api_version, kind, name, pods.namespace)
        if live is not None and not _ours(cluster, live):
            return f"{kind}NotOwned", (
                f"{kind} {pods.namespace}/{name} exists and FarFlow did not make it for this "
                f"cluster; FarFlow never takes one over: {fix}"
            )
    return None


def _ours(cluster: ResolvedCluster, live: Manifest) -> bool:
    """Made by FarFlow for this cluster: labelled with its owner, or (as earlier versions
    labelled what they made) with its name in its own namespace."""
    if made_by_farflow_for(live, owner_value(cluster.namespace, cluster.name)):
        return True
    labels = live["metadata"].get("labels") or {}
    return (
        live["metadata"].get("namespace") == cluster.namespace
        and labels.get(CLUSTER_LABEL) == cluster.name
        and labels.get(MANAGED_BY_LABEL) == FIELD_MANAGER
    )
