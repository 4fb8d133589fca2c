"""Object metadata of the cluster's manifests, by the conventions of `farflow.objects`."""

from __future__ import annotations

from farflow.api.names import KubeNames
from farflow.objects import (
    CLUSTER_LABEL,
    OWNER_LABEL,
    Manifest,
    Owner,
    labels,
    owner_value,
    prune_selector,
    selector_labels,
)
from farflow.plan.model import Plan


def component_labels(plan: Plan, component: str) -> dict[str, str]:
    names = plan.names
    owner = owner_value(names.namespace, names.cluster)
    return labels(names.cluster, owner, component, plan.airflow_version)


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


def prune_selectors(names: KubeNames, task_namespace: str) -> dict[str, str]:
    """Namespace -> the selector of what FarFlow made there for the cluster: by its name in
    its own namespace, by its owner (namespace and name) in a task namespace others share."""
    selectors = {names.namespace: prune_selector(CLUSTER_LABEL, names.cluster)}
    if task_namespace != names.namespace:
        owner = owner_value(names.namespace, names.cluster)
        selectors[task_namespace] = prune_selector(OWNER_LABEL, owner)
    return selectors
