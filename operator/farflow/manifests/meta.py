"""Object metadata of the cluster's manifests, by the conventions of `farflow.objects`."""

from __future__ import annotations

from farflow.objects import Manifest, Owner, labels, selector_labels
from farflow.plan.model import Plan


def component_labels(plan: Plan, component: str) -> dict[str, str]:
    return labels(plan.names.cluster, component, plan.airflow_version)


def component_selector(plan: Plan, component: str) -> dict[str, str]:
    return selector_labels(plan.names.cluster, component)


def metadata(
    plan: Plan, owner: Owner, name: str, component: str, namespace: str | None = None
) -> Manifest:
    """Object metadata; objects outside the cluster's namespace cannot have an owner."""
    namespace = namespace or plan.names.namespace
    meta: Manifest = {
        "name": name,
        "namespace": namespace,
        "labels": component_labels(plan, component),
    }
    if namespace == plan.names.namespace:
        meta["ownerReferences"] = [owner.reference()]
    return meta
