"""The API server's Service: an NLB with IP targets by default, as Fargate requires."""

from __future__ import annotations

from farflow.manifests.meta import component_selector, metadata
from farflow.objects import Manifest, Owner
from farflow.plan.model import Plan


def service(plan: Plan, owner: Owner) -> Manifest:
    meta = metadata(plan, owner, plan.names.service, "api-server")
    if plan.service.annotations:
        meta["annotations"] = dict(plan.service.annotations)
    port = {"name": "http", "port": plan.service.port, "targetPort": "http", "protocol": "TCP"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": plan.service.type,
            "selector": component_selector(plan, "api-server"),
            "ports": [port],
        },
    }
