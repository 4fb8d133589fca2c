"""The API server's Services: an NLB with IP targets by default, as Fargate requires. With
TLS the NLB serves HTTPS on 443 only (a plain port would get a listener too), and in-cluster
clients get a ClusterIP Service of their own."""

from __future__ import annotations

from farflow.manifests.meta import component_selector, metadata
from farflow.objects import Manifest, Owner
from farflow.plan.model import Plan

HTTPS_PORT = 443


def services(plan: Plan, owner: Owner) -> list[Manifest]:
    exposed = plan.service
    port = _port("https", HTTPS_PORT) if exposed.tls else _port("http", exposed.port)
    spec = {"type": exposed.type, "ports": [port]}
    if exposed.source_ranges:
        spec["loadBalancerSourceRanges"] = list(exposed.source_ranges)
    made = [_service(plan, owner, plan.names.service, spec, exposed.annotations)]
    if exposed.in_cluster != plan.names.service:
        in_cluster = {"type": "ClusterIP", "ports": [_port("http", exposed.port)]}
        made.append(_service(plan, owner, exposed.in_cluster, in_cluster, {}))
    return made


def _port(name: str, port: int) -> Manifest:
    return {"name": name, "port": port, "targetPort": "http", "protocol": "TCP"}


def _service(
    plan: Plan, owner: Owner, name: str, spec: Manifest, annotations: dict[str, str]
) -> Manifest:
    meta = metadata(plan, owner, name, "api-server")
    if annotations:
        meta["annotations"] = dict(annotations)
    selector = component_selector(plan, "api-server")
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {**spec, "selector": selector},
    }
