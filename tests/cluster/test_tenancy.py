"""Tenancy on the real API server: what an AirflowCluster's author can reach through its task
namespace, checked with RBAC's own answer (`kubectl auth can-i` as Airflow's service
accounts), and two same-name clusters sharing one task namespace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from farflow.tenancy import opt_in_label
from tests.controlplane.localcluster import LocalCluster
from tests.fixtures.controlplane import temporary_namespace
from tests.fixtures.operator import (
    Operator,
    apply_cluster,
    audit_writes,
    get_json,
    running_operators,
    sleep_resyncs,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.cluster
ROLE = "eks.amazonaws.com/role-arn"


@pytest.fixture
def victim(local_cluster: LocalCluster) -> Iterator[str]:
    """Another team's namespace, with a ServiceAccount of theirs that has an IAM role."""
    for name in temporary_namespace(local_cluster, "victim"):
        local_cluster.kubectl("-n", name, "create", "serviceaccount", "deployer")
        role = f"{ROLE}=arn:aws:iam::123456789012:role/deployer"
        local_cluster.kubectl("-n", name, "annotate", "serviceaccount", "deployer", role)
        yield name


def can(cluster: LocalCluster, namespace: str, account: str, verb: str, resource: str) -> bool:
    """RBAC's answer for ``account`` (namespace/name) doing ``verb`` on ``resource``."""
    ns, name = account.split("/")
    result = cluster.kubectl(
        "auth", "can-i", verb, resource, "-n", namespace,
        "--as", f"system:serviceaccount:{ns}:{name}", check=False,
    )  # fmt: skip
    return result.stdout.strip() == "yes"


def task_condition(cluster: LocalCluster, namespace: str) -> dict[str, Any]:
    status = get_json(cluster, "-n", namespace, "af/minimal").get("status", {})
    return next(c for c in status.get("conditions", []) if c["type"] == "TaskNamespaceReady")


def farflows(cluster: LocalCluster, namespace: str) -> list[tuple[str, str]]:
    found = get_json(cluster, "-n", namespace, "serviceaccounts,rolebindings,roles")["items"]
    return sorted(
        (item["kind"], item["metadata"]["name"])
        for item in found
        if (item["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "farflow"
    )


def test_a_task_namespace_must_opt_in_and_no_service_account_is_taken_over(
    local_cluster: LocalCluster, namespace: str, victim: str, operator: Operator
) -> None:
    worker = f"{namespace}/minimal-worker"
    pods = {"namespace": victim, "serviceAccountName": "deployer"}
    apply_cluster(local_cluster, namespace, {"spec": {"pods": pods}})

    label = opt_in_label(namespace)
    wait_for(
        lambda: task_condition(local_cluster, namespace)["reason"] == "TaskNamespaceNotAllowed",
        60,
        "TaskNamespaceReady=False TaskNamespaceNotAllowed",
    )
    refused = task_condition(local_cluster, namespace)
    assert f"kubectl label namespace {victim} {label}=true" in refused["message"]
    assert farflows(local_cluster, victim) == []
    assert not can(local_cluster, victim, worker, "create", "pods")
    assert not can(local_cluster, victim, worker, "create", "pods/exec")

    local_cluster.kubectl("label", "namespace", victim, f"{label}=true")
    wait_for(
        lambda: task_condition(local_cluster, namespace)["reason"] == "ServiceAccountNotOwned",
        60,
        "TaskNamespaceReady=False ServiceAccountNotOwned",
    )
    assert farflows(local_cluster, victim) == []

    apply_cluster(local_cluster, namespace, {"spec": {"pods": {"namespace": victim}}})
    wait_ready(local_cluster, namespace)
    assert farflows(local_cluster, victim) == [
        ("RoleBinding", f"{namespace}.minimal-pod-operator"),
        ("ServiceAccount", f"{namespace}.minimal-task"),
    ]
    assert can(local_cluster, victim, worker, "create", "pods/exec")
    assert can(local_cluster, victim, f"{namespace}/minimal-triggerer", "watch", "pods")
    for account in ("api-server", "dag-processor", "scheduler", "migration"):
        assert not can(local_cluster, victim, f"{namespace}/minimal-{account}", "create", "pods")
    assert not can(local_cluster, namespace, f"{namespace}/minimal-api-server", "create", "pods")
    assert not can(local_cluster, "kube-system", worker, "create", "pods")

    local_cluster.kubectl("-n", namespace, "delete", "af/minimal", "--timeout=60s")
    wait_for(lambda: farflows(local_cluster, victim) == [], 60, "the task namespace cleaned")
    deployer = get_json(local_cluster, "-n", victim, "serviceaccount/deployer")
    assert deployer["metadata"]["annotations"][ROLE].endswith(":role/deployer")


@pytest.fixture
def two_teams(local_cluster: LocalCluster) -> Iterator[tuple[str, str, str]]:
    """Namespaces team-a and team-b, and a task namespace both opted into."""
    made = [temporary_namespace(local_cluster, label) for label in ("team-a", "team-b", "tasks")]
    first, second, tasks = (next(namespaces) for namespaces in made)
    for team in (first, second):
        local_cluster.kubectl("label", "namespace", tasks, f"{opt_in_label(team)}=true")
    yield first, second, tasks
    for namespaces in made:
        next(namespaces, None)


@pytest.fixture
def both_watched(
    local_cluster: LocalCluster,
    two_teams: tuple[str, str, str],
    moto_server: dict[str, str],
    crd: None,
    tmp_path: Path,
) -> Iterator[Operator]:
    for operators in running_operators(local_cluster, list(two_teams[:2]), moto_server, tmp_path):
        yield operators.start()


def test_same_name_clusters_share_a_task_namespace_without_touching_each_other(
    local_cluster: LocalCluster, two_teams: tuple[str, str, str], both_watched: Operator
) -> None:
    first, second, tasks = two_teams
    for team in (first, second):
        apply_cluster(local_cluster, team, {"spec": {"pods": {"namespace": tasks}}})
    for team in (first, second):
        wait_ready(local_cluster, team)
    expected = sorted(
        (kind, f"{team}.minimal-{suffix}")
        for team in (first, second)
        for kind, suffix in (("RoleBinding", "pod-operator"), ("ServiceAccount", "task"))
    )
    assert farflows(local_cluster, tasks) == expected
    sleep_resyncs(1)
    since = time.time() + 1
    sleep_resyncs(3)
    assert audit_writes(local_cluster.audit_log, tasks, since) == []  # nobody overwrites

    local_cluster.kubectl("-n", first, "delete", "af/minimal", "--timeout=60s")
    wait_for(
        lambda: farflows(local_cluster, tasks) == [e for e in expected if second in e[1]],
        60,
        "only the deleted cluster's objects gone",
    )
    assert can(local_cluster, tasks, f"{second}/minimal-worker", "create", "pods/exec")
