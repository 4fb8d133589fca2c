"""The API server's Services: an NLB with IP targets by default, as Fargate requires. With
TLS the NLB serves HTTPS on 443 only (a plain port would get a listener too), and in-cluster
clients get a ClusterIP Service of their own. The metrics collector's ClusterIP Service,
where the Airflow processes push their metrics and Prometheus scrapes them."""

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
    collector = plan.component("metrics")
    if collector is not None and collector.port is not None:
        ports = {"type": "ClusterIP", "ports": [_port("http", collector.port)]}
        made.append(_service(plan, owner, plan.names.of("metrics"), ports, {}, "metrics"))
    return made


def _port(name: str, port: int) -> Manifest:
    return {"name": name, "port": port, "targetPort": "http", "protocol": "TCP"}


def _service(  # noqa: PLR0917 - the Service's parts, each a different kind
    plan: Plan,
    owner: Owner,
    name: str,
    spec: Manifest,
    annotations: dict[str, str],
    component: str = "api-server",
) -> Manifest:
    meta = metadata(plan, owner, name, component)
    if annotations:
        meta["annotations"] = dict(annotations)
    selector = component_selector(plan, component)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {**spec, "selector": selector},
    }
