"""A NetworkPolicy: the UI/API port is open; the log servers and the metrics collector only
to the cluster's own pods (a Prometheus elsewhere needs a NetworkPolicy of its own that
admits it: policies add up)."""

from __future__ import annotations

from farflow.manifests.meta import metadata
from farflow.objects import CLUSTER_LABEL, Manifest, Owner
from farflow.plan.config import API_PORT, METRICS_PORT, WORKER_LOG_PORT
from farflow.plan.model import Plan

TRIGGERER_LOG_PORT = 8794


def network_policy(plan: Plan, owner: Owner) -> Manifest:
    own_pods = {"podSelector": {"matchLabels": {CLUSTER_LABEL: plan.names.cluster}}}
    own_ports = [{"port": port, "protocol": "TCP"}
                 for port in (WORKER_LOG_PORT, TRIGGERER_LOG_PORT, METRICS_PORT)]  # fmt: skip
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(plan, owner, plan.names.of("airflow"), "network-policy"),
        "spec": {
            **own_pods,
            "policyTypes": ["Ingress"],
            "ingress": [
                {"ports": [{"port": API_PORT, "protocol": "TCP"}]},
                {"from": [own_pods], "ports": own_ports},
            ],
        },
    }
