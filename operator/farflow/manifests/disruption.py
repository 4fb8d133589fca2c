"""PodDisruptionBudgets: voluntary evictions take at most one pod of a component at a time."""

from __future__ import annotations

from farflow.manifests.meta import component_selector, metadata
from farflow.objects import Manifest, Owner
from farflow.plan.model import Component, Plan


def disruption_budget(plan: Plan, owner: Owner, component: Component) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(plan, owner, plan.names.of(component.name), component.name),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": component_selector(plan, component.name)},
        },
    }
