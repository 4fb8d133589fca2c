"""The local control plane behaves like a cluster: scheduling, controllers, garbage collection,
pod logs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from tests.controlplane.localcluster import LocalCluster
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.cluster
IMAGE = "registry.k8s.io/pause:3.10"  # never pulled: kwok runs no containers
FARGATE = "eks.amazonaws.com/compute-type=fargate"
# What kwok serves as every container's logs, in the CRI format: "<time> stdout F <line>".
KWOK_CONTAINER_LOG = Path(__file__).parents[1] / "controlplane" / "kwok-container.log"


def apply(cluster: LocalCluster, namespace: str, manifest: dict[str, Any]) -> None:
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(manifest))


def names(cluster: LocalCluster, *args: str) -> set[str]:
    listed = cluster.kubectl("get", *args, "-o", "json").stdout
    return {item["metadata"]["name"] for item in json.loads(listed)["items"]}


def pod_template(app: str, restart_policy: str = "Always") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "restartPolicy": restart_policy,
            "containers": [{"name": app, "image": IMAGE}],
        },
    }


def run_deployment(cluster: LocalCluster, namespace: str, app: str, replicas: int) -> None:
    """A Deployment of ``replicas`` pods on the kwok nodes, once they are available."""
    apply(cluster, namespace, deployment(app, replicas))
    cluster.kubectl(
        "-n", namespace, "wait", "--for=condition=Available", "--timeout=60s", f"deployment/{app}"
    )


def deployment(app: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": pod_template(app),
        },
    }


def test_nodes_look_like_fargate(local_cluster: LocalCluster) -> None:
    nodes = json.loads(local_cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert {node["metadata"]["name"] for node in nodes} == set(local_cluster.nodes)
    zones = {node["metadata"]["labels"]["topology.kubernetes.io/zone"] for node in nodes}
    assert zones == {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert names(local_cluster, "nodes", "-l", FARGATE) == set(local_cluster.nodes)


def test_deployment_pods_run_on_fargate_nodes(local_cluster: LocalCluster, namespace: str) -> None:
    run_deployment(local_cluster, namespace, "web", 3)

    pods = json.loads(
        local_cluster.kubectl("-n", namespace, "get", "pods", "-l", "app=web", "-o", "json").stdout
    )["items"]
    assert len(pods) == 3
    fargate_nodes = names(local_cluster, "nodes", "-l", FARGATE)
    assert {pod["spec"]["nodeName"] for pod in pods} <= fargate_nodes
    assert {pod["status"]["phase"] for pod in pods} == {"Running"}


def test_job_completes(local_cluster: LocalCluster, namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {"backoffLimit": 0, "template": pod_template("migrate", "Never")},
    }
    apply(local_cluster, namespace, job)

    local_cluster.kubectl(
        "-n", namespace, "wait", "--for=condition=Complete", "--timeout=60s", "job/migrate"
    )


def test_deleting_an_owner_collects_its_dependents(
    local_cluster: LocalCluster, namespace: str
) -> None:
    kubectl = local_cluster.kubectl
    kubectl("-n", namespace, "create", "configmap", "owner")
    uid = kubectl("-n", namespace, "get", "configmap/owner", "-o", "jsonpath={.metadata.uid}")
    owned = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "owned",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid.stdout}
            ],
        },
    }
    apply(local_cluster, namespace, owned)

    kubectl("-n", namespace, "delete", "configmap/owner", "--wait=false")

    kubectl("-n", namespace, "wait", "--for=delete", "--timeout=60s", "configmap/owned")


def test_deleting_a_deployment_collects_its_replicasets_and_pods(
    local_cluster: LocalCluster, namespace: str
) -> None:
    run_deployment(local_cluster, namespace, "gone", 2)
    in_namespace = ("-n", namespace, "-l", "app=gone")
    assert names(local_cluster, "replicasets", *in_namespace)

    local_cluster.kubectl("-n", namespace, "delete", "deployment/gone", "--wait=false")

    wait_until(
        lambda: not names(local_cluster, "replicasets,pods", *in_namespace),
        60,
        "the Deployment's ReplicaSets and pods being garbage-collected",
    )


def simulated_log() -> list[tuple[str, str]]:
    """(timestamp, line) for each line of kwok-container.log."""
    entries = [row.split(" ", 3) for row in KWOK_CONTAINER_LOG.read_text().splitlines()]
    return [(timestamp, line) for timestamp, _stream, _tag, line in entries]


def bare_pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A pod as KubernetesPodOperator creates one: no controller, one container named base."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {"eks.amazonaws.com/compute-type": "fargate"},
            "containers": [{"name": "base", "image": IMAGE}],
        },
    }


def wait_for_phase(cluster: LocalCluster, namespace: str, pod: str, phase: str) -> None:
    condition = f"--for=jsonpath={{.status.phase}}={phase}"
    cluster.kubectl("-n", namespace, "wait", condition, "--timeout=60s", f"pod/{pod}")


def test_kubectl_logs_shows_what_kwok_serves(local_cluster: LocalCluster, namespace: str) -> None:
    kubectl = local_cluster.kubectl
    apply(local_cluster, namespace, bare_pod("running"))
    wait_for_phase(local_cluster, namespace, "running", "Running")
    lines = [line for _, line in simulated_log()]

    logs = kubectl("-n", namespace, "logs", "running", timeout=30)
    # Bounded by the timeout: a follow read ends after the lines, as for a stopped container.
    followed = kubectl("-n", namespace, "logs", "--follow", "running", "-c", "base", timeout=30)
    stamped = kubectl("-n", namespace, "logs", "running", "--timestamps", "--tail=1", timeout=30)
    recent = kubectl("-n", namespace, "logs", "running", "--since=1h", timeout=30)

    assert any("simulated by kwok" in line for line in lines)
    assert logs.stdout.splitlines() == lines
    assert followed.stdout.splitlines() == lines
    assert stamped.stdout.splitlines() == [" ".join(simulated_log()[-1])]
    assert recent.stdout == ""  # the simulated lines are older than an hour


def test_a_followed_log_read_ends_as_kubernetes_pod_operator_reads_it(
    local_cluster: LocalCluster, namespace: str
) -> None:
    # kwok-task-stages.yaml: a pod with this label Succeeds as soon as it runs.
    apply(local_cluster, namespace, bare_pod("task", {"kubernetes_pod_operator": "True"}))
    wait_for_phase(local_cluster, namespace, "task", "Succeeded")
    core = client.CoreV1Api(
        config.new_client_from_config(config_file=str(local_cluster.kubeconfig))
    )

    started = time.monotonic()
    # The call KubernetesPodOperator(get_logs=True) makes; the read timeout bounds the test
    # should the stream not end.
    response = core.read_namespaced_pod_log(
        "task",
        namespace,
        container="base",
        follow=True,
        timestamps=True,
        _preload_content=False,
        _request_timeout=(10, 30),
    )
    try:
        body = response.read().decode()
    finally:
        response.release_conn()

    assert [tuple(row.split(" ", 1)) for row in body.splitlines()] == simulated_log()
    assert time.monotonic() - started < 30
