"""Labels, names and owner references every object FarFlow creates carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from farflow.plan.model import Plan

Manifest = dict[str, Any]
CLUSTER_LABEL = "farflow.io/cluster"
MANAGER = "farflow"


@dataclass(frozen=True)
class Owner:
    """The AirflowCluster that owns the objects; its uid ties their lifetime to it."""

    api_version: str
    kind: str
    name: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def selector_labels(plan: Plan, component: str) -> dict[str, str]:
    """Immutable labels a Deployment selects its pods by."""
    return {
        "app.kubernetes.io/name": "airflow",
        "app.kubernetes.io/instance": plan.names.cluster,
        "app.kubernetes.io/component": component,
        CLUSTER_LABEL: plan.names.cluster,
    }


def labels(plan: Plan, component: str) -> dict[str, str]:
    """Standard labels of an object of ``component``."""
    return {
        **selector_labels(plan, component),
        "app.kubernetes.io/version": plan.airflow_version,
        "app.kubernetes.io/part-of": "farflow",
        "app.kubernetes.io/managed-by": MANAGER,
    }


def metadata(
    plan: Plan, owner: Owner, name: str, component: str, namespace: str | None = None
) -> Manifest:
    """Object metadata; objects outside the cluster's namespace cannot have an owner."""
    namespace = namespace or plan.names.namespace
    meta: Manifest = {"name": name, "namespace": namespace, "labels": labels(plan, component)}
    if namespace == plan.names.namespace:
        meta["ownerReferences"] = [owner.reference()]
    return meta
