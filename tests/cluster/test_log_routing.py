"""The shared log-router ConfigMap on the real API server: many clusters' blocks, and EKS
Fargate's 5300-character limit never crossed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import config

from farflow.kube.client import Kube
from farflow.kube.log_routing import (
    CONFIG_MAP,
    LIMIT,
    NAMESPACE,
    output_block,
    route_pod_logs,
    sync_logging,
)
from tests.controlplane.localcluster import LocalCluster
from tests.fixtures.operator import Operator, apply_cluster, get_json, wait_for, wait_ready

pytestmark = pytest.mark.cluster
THEIRS = "[OUTPUT]\n    Name cloudwatch_logs\n    Match kube.*\n    log_group_name platform\n"
OWNERS = [f"team-{index:02}/airflow-{index:02}" for index in range(25)]


@pytest.fixture
def kube(local_cluster: LocalCluster) -> Kube:
    return Kube(config.new_client_from_config(str(local_cluster.kubeconfig)))


@pytest.fixture
def platform_logging(local_cluster: LocalCluster, kube: Kube) -> Iterator[None]:
    """The platform team's own output first in the ConfigMap (which the whole test session
    shares); afterwards the ConfigMap as it was."""
    local_cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    live = kube.get("v1", "ConfigMap", CONFIG_MAP, NAMESPACE)
    before = ((live or {}).get("data") or {}).get("output.conf", "")
    set_output(local_cluster, THEIRS + before)
    yield
    set_output(local_cluster, before)


def set_output(local_cluster: LocalCluster, text: str) -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP, "namespace": NAMESPACE},
        "data": {"output.conf": text},
    }
    local_cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(configmap)
    )


def output(local_cluster: LocalCluster) -> dict[str, Any]:
    data: dict[str, Any] = get_json(local_cluster, "-n", NAMESPACE, f"configmap/{CONFIG_MAP}")[
        "data"
    ]
    return data


def test_25_clusters_never_take_the_config_map_past_the_limit(
    local_cluster: LocalCluster, kube: Kube, platform_logging: None
) -> None:
    conditions = {}
    for owner in OWNERS:
        namespace, name = owner.split("/")
        block = output_block(namespace, name, "us-east-1", f"/farflow/{owner}")
        conditions[owner] = route_pod_logs(kube, owner, block, f"/farflow/{owner}")
    data = output(local_cluster)
    assert sum(len(value) for value in data.values()) <= LIMIT
    assert data["output.conf"].startswith(THEIRS)  # the platform's own output kept
    routed = [owner for owner, c in conditions.items() if c.holds]
    refused = [owner for owner, c in conditions.items() if not c.holds]
    assert routed == OWNERS[: len(routed)]  # first come, first served; nothing half-written
    assert refused
    assert {conditions[owner].reason for owner in refused} == {"LogRouterConfigFull"}
    assert f"above the {LIMIT} EKS Fargate accepts" in conditions[refused[0]].message
    for owner in routed:
        assert data["output.conf"].count(f"# BEGIN farflow {owner}\n") == 1
    for owner in refused:
        assert f"farflow {owner}" not in data["output.conf"]

    sync_logging(kube, routed[0], None)  # a cluster deleted makes room for the next
    namespace, name = refused[0].split("/")
    block = output_block(namespace, name, "us-east-1", f"/farflow/{refused[0]}")
    assert route_pod_logs(kube, refused[0], block, f"/farflow/{refused[0]}").holds


def pod_logs(local_cluster: LocalCluster, namespace: str) -> dict[str, Any]:
    status = get_json(local_cluster, "-n", namespace, "af/minimal").get("status", {})
    found: dict[str, Any] = next(
        c for c in status.get("conditions", []) if c["type"] == "PodLogsReady"
    )
    return found


def test_a_cluster_whose_block_does_not_fit_says_so_and_routes_once_there_is_room(
    local_cluster: LocalCluster, namespace: str, operator: Operator, platform_logging: None
) -> None:
    padding = "# " + "x" * (LIMIT - len(THEIRS) - 100)  # the platform's filters, nearly all
    patch = json.dumps({"data": {"filters.conf": padding}})
    local_cluster.kubectl("-n", NAMESPACE, "patch", "configmap", CONFIG_MAP, "-p", patch)
    try:
        apply_cluster(local_cluster, namespace)
        wait_for(
            lambda: pod_logs(local_cluster, namespace)["reason"] == "LogRouterConfigFull",
            60,
            "PodLogsReady=False LogRouterConfigFull",
        )
        assert f"farflow {namespace}/minimal" not in output(local_cluster)["output.conf"]
        assert sum(len(value) for value in output(local_cluster).values()) <= LIMIT
    finally:
        removed = json.dumps({"data": {"filters.conf": None}})
        local_cluster.kubectl("-n", NAMESPACE, "patch", "configmap", CONFIG_MAP, "-p", removed)
    wait_ready(local_cluster, namespace)
    assert pod_logs(local_cluster, namespace)["reason"] == "Routed"
    assert f"# BEGIN farflow {namespace}/minimal" in output(local_cluster)["output.conf"]
