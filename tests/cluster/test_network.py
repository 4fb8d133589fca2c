"""The API server's exposure and the pods' security groups on the real API server, with EKS's
SecurityGroupPolicy CRD installed (tests/cases/crds, by the `crd` fixture): TLS at the NLB
shows as https://, and the policy FarFlow applies selects the Airflow pods and no task pod."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.controlplane.localcluster import LocalCluster
from tests.fixtures.operator import (
    Operator,
    apply_cluster,
    get_json,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.cluster
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d"
GROUPS = ["sg-0a1b2c3d4e5f60718"]


def selected(local_cluster: LocalCluster, namespace: str, selector: dict[str, Any]) -> set[str]:
    """The pods the policy's selector picks, as the API server evaluates it."""
    terms = [f"{key}={value}" for key, value in selector["matchLabels"].items()]
    terms += [f"{e['key']} in ({','.join(e['values'])})" for e in selector["matchExpressions"]]
    pods = get_json(local_cluster, "-n", namespace, "pods", "-l", ",".join(terms))["items"]
    return {pod["metadata"]["name"] for pod in pods}


def test_tls_and_security_groups_for_the_airflow_pods(
    local_cluster: LocalCluster,
    namespace: str,
    operator: Operator,
) -> None:
    spec = {
        "apiServer": {"service": {"tls": {"certificateArn": CERTIFICATE}}},
        "network": {"podSecurityGroupIds": GROUPS},
    }
    apply_cluster(local_cluster, namespace, {"spec": spec})
    wait_ready(local_cluster, namespace)

    [policy] = get_json(local_cluster, "-n", namespace, "securitygrouppolicies")["items"]
    assert policy["spec"]["securityGroups"]["groupIds"] == GROUPS
    airflow = selected(local_cluster, namespace, policy["spec"]["podSelector"])
    pods = get_json(local_cluster, "-n", namespace, "pods")["items"]
    assert airflow == {p["metadata"]["name"] for p in pods}  # the migration's and components'
    assert len(airflow) >= 5
    task_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "a-task", "labels": labels_of_task_pods(local_cluster, namespace)},
        "spec": {"containers": [{"name": "task", "image": "example.com/task:1"}]},
    }
    local_cluster.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(task_pod))
    assert "a-task" not in selected(local_cluster, namespace, policy["spec"]["podSelector"])

    services = {
        s["metadata"]["name"]: s
        for s in get_json(local_cluster, "-n", namespace, "services")["items"]
    }
    assert [p["port"] for p in services["minimal-api-server"]["spec"]["ports"]] == [443]
    assert [p["port"] for p in services["minimal-api"]["spec"]["ports"]] == [8080]
    hostname = {"status": {"loadBalancer": {"ingress": [{"hostname": "ui.example.com"}]}}}
    local_cluster.kubectl(
        "-n", namespace, "patch", "service", "minimal-api-server", "--subresource=status",
        "--type=merge", "-p", json.dumps(hostname),
    )  # fmt: skip
    wait_for(
        lambda: (
            get_json(local_cluster, "-n", namespace, "af/minimal")["status"]["apiServerUrl"]
            == "https://ui.example.com"
        ),
        30,
        "status.apiServerUrl https://",
    )


def labels_of_task_pods(local_cluster: LocalCluster, namespace: str) -> dict[str, str]:
    """What the operator tells KubernetesPodOperator DAGs to label their pods with."""
    config = get_json(local_cluster, "-n", namespace, "configmap/minimal-airflow-config")["data"]
    labels: dict[str, str] = json.loads(config["AIRFLOW_VAR_FARFLOW_PODS"])["labels"]
    return labels
