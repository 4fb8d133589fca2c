"""`helm install` into the local control plane; the operator then runs as a process (kwok's
pods never run a container) with the chart's ServiceAccount token, so the chart's RBAC is what
it works with: a missing permission leaves the AirflowCluster short of Ready and shows up as a
403 in the API server's audit log."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from farflow.manifests.rbac import CLUSTER_ROLE_RULES
from tests.fixtures.controlplane import temporary_namespace
from tests.fixtures.operator import (
    DB_URL,
    RESYNC_SECONDS,
    Operator,
    apply_cluster,
    create_secret,
    get_json,
    wait_for,
    wait_ready,
)
from tests.fixtures.processes import Process, free_port
from tests.helm.conftest import CHART, VALUES, Helm

pytestmark = pytest.mark.helm

RELEASE = "farflow"  # as the README installs it; the objects are named after it
TASK_ROLES = sorted(CLUSTER_ROLE_RULES)
OBSERVABILITY = "aws-observability"


@dataclass(frozen=True)
class Release:
    namespace: str
    values: dict[str, Any]  # what it was installed with
    chart_cluster: bool  # the AirflowCluster came with the chart (else kubectl apply)

    def values_file(self, path: Path, **changes: Any) -> Path:
        path.write_text(yaml.safe_dump(self.values | changes))
        return path


def mode_values(mode: str, namespace: str) -> dict[str, Any]:
    """watch-namespace: tests/helm/values/minimal.yaml (a chart-installed AirflowCluster),
    watching the release's namespace only; all-namespaces: the defaults, as the README
    installs the chart before applying an example."""
    values: dict[str, Any] = {"resyncSeconds": RESYNC_SECONDS}
    if mode == "watch-namespace":
        values |= yaml.safe_load((VALUES / "minimal.yaml").read_text())
        values["watchNamespaces"] = [namespace]
    return values


def service_account_kubeconfig(local_cluster: Any, namespace: str, path: Path) -> Path:
    """A kubeconfig holding only a token of the chart's ServiceAccount."""
    token = local_cluster.kubectl(
        "-n", namespace, "create", "token", RELEASE, "--duration=1h"
    ).stdout.strip()
    admin = yaml.safe_load(local_cluster.kubeconfig.read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": RELEASE, "user": {"token": token}}],
        "contexts": [
            {
                "name": RELEASE,
                "context": {
                    "cluster": admin["clusters"][0]["name"],
                    "user": RELEASE,
                    "namespace": namespace,
                },
            }
        ],
        "current-context": RELEASE,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module", params=["watch-namespace", "all-namespaces"])
def release(
    helm: Helm,
    local_cluster: Any,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Release]:
    """The chart installed into a fresh namespace that enforces Pod Security "restricted"."""
    namespaces = temporary_namespace(local_cluster, f"helm-{request.param}")
    namespace = next(namespaces)
    local_cluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    # With watchNamespaces set, the Fargate logging Namespace is a prerequisite (values.yaml).
    local_cluster.kubectl("create", "namespace", OBSERVABILITY, check=False)
    installed = Release(
        namespace, mode_values(request.param, namespace), request.param == "watch-namespace"
    )
    create_secret(local_cluster, namespace, "airflow-db", connection=DB_URL)
    remove_unmanaged_task_roles(local_cluster)
    values = installed.values_file(tmp_path_factory.mktemp("helm") / "values.yaml")
    helm.run(
        "install", RELEASE, str(CHART), "--namespace", namespace, "--values", str(values),
        "--wait", "--timeout", "3m", kubeconfig=local_cluster.kubeconfig,
    )  # fmt: skip
    if not installed.chart_cluster:
        apply_cluster(local_cluster, namespace)  # the README's `kubectl apply` of the example
    try:
        yield installed
    finally:
        helm.run(
            "uninstall", RELEASE, "--namespace", namespace, "--wait",
            check=False, kubeconfig=local_cluster.kubeconfig,
        )  # fmt: skip
        next(namespaces, None)


def remove_unmanaged_task_roles(local_cluster: Any) -> None:
    """The task-pod ClusterRoles have fixed names, and the cluster tier applies them to the
    shared control plane without Helm: Helm would refuse to take them over."""
    local_cluster.kubectl("delete", "clusterrole", *TASK_ROLES, "--ignore-not-found")


def test_operator_deployment_becomes_available(local_cluster: Any, release: Release) -> None:
    local_cluster.kubectl(
        "-n", release.namespace, "wait", "--for=condition=Available", "--timeout=120s",
        f"deployment/{RELEASE}",
    )  # fmt: skip
    pods = get_json(
        local_cluster,
        "-n",
        release.namespace,
        "pods",
        "-l",
        f"app.kubernetes.io/instance={RELEASE}",
    )
    assert [pod["status"]["phase"] for pod in pods["items"]] == ["Running"]


def test_notes_tell_how_to_reach_the_ui_and_the_admin_password(
    helm: Helm, local_cluster: Any, release: Release
) -> None:
    notes = helm.run(
        "get",
        "notes",
        RELEASE,
        "--namespace",
        release.namespace,
        kubeconfig=local_cluster.kubeconfig,
    ).stdout
    print(notes)
    ns, name = (release.namespace, "minimal") if release.chart_cluster else ("NAMESPACE", "NAME")
    assert f"kubectl -n {ns} get af" in notes
    assert f"port-forward service/{name}-api-server 8080:8080" in notes
    assert f"get secret {name}-admin" in notes
    assert f"airflow/{ns}/{name}/admin" in notes


def operator_with_the_charts_rights(
    local_cluster: Any, namespace: str, scope: list[str], env: dict[str, str], work: Path
) -> Operator:
    """What the chart's Deployment runs, but as a process (kwok runs no container), for the
    liveness port and a fast resync, with a token of the chart's ServiceAccount only; its
    log is work/operator.log. ``env`` adds to its environment (AWS, a PYTHONPATH)."""
    kubeconfig = service_account_kubeconfig(local_cluster, namespace, work / "kubeconfig")
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    argv = [
        sys.executable, "-m", "farflow.cli", "run", *scope,
        "--liveness", liveness, "--resync-seconds", str(RESYNC_SECONDS), "--log-format", "plain",
    ]  # fmt: skip
    process = Process(argv, work / "operator.log", {**env, "KUBECONFIG": str(kubeconfig)})
    return Operator(process, liveness)


@pytest.fixture(scope="module")
def chart_operator(
    local_cluster: Any,
    release: Release,
    moto_server: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """The operator as a process, with only a token of the chart's ServiceAccount, watching
    the release's namespace; yields its log."""
    work = tmp_path_factory.mktemp("operator")
    scope = ["--namespace", release.namespace] if release.chart_cluster else ["--all-namespaces"]
    operator = operator_with_the_charts_rights(
        local_cluster, release.namespace, scope, {**moto_server}, work
    )
    operator.start()
    try:
        yield work / "operator.log"
    finally:
        operator.process.stop()
        print(f"--- operator log (last lines) ---\n{operator.process.tail(80)}")


def assert_nothing_forbidden(local_cluster: Any, namespace: str, log: Path) -> None:
    """RBAC allowed every request the operator made: the chart grants all it needs. (Only
    the authorizer's decision counts: admission may refuse an allowed request with a 403 too,
    e.g. a create in a terminating namespace.)"""
    user = f"system:serviceaccount:{namespace}:{RELEASE}"
    forbidden = {
        (event["objectRef"].get("resource", ""), event["verb"])
        for event in local_cluster.audit_events()
        if event["user"]["username"] == user
        and event.get("annotations", {}).get("authorization.k8s.io/decision") == "forbid"
    }
    assert forbidden == set()
    assert "Traceback" not in log.read_text()


def test_operator_with_the_charts_rbac_makes_the_chart_installed_cluster_ready(
    local_cluster: Any, release: Release, chart_operator: Path
) -> None:
    wait_ready(local_cluster, release.namespace, timeout=180)
    assert_nothing_forbidden(local_cluster, release.namespace, chart_operator)


def test_upgrade_with_changed_values_rolls_the_operator(
    helm: Helm, local_cluster: Any, release: Release, tmp_path: Path
) -> None:
    def deployment() -> dict[str, Any]:
        found: dict[str, Any] = get_json(
            local_cluster, "-n", release.namespace, f"deployment/{RELEASE}"
        )
        return found

    before = deployment()
    values = release.values_file(tmp_path / "values.yaml", logFormat="plain")
    helm.run(
        "upgrade", RELEASE, str(CHART), "--namespace", release.namespace, "--values", str(values),
        "--wait", "--timeout", "3m", kubeconfig=local_cluster.kubeconfig,
    )  # fmt: skip
    after = deployment()
    assert after["metadata"]["generation"] > before["metadata"]["generation"]
    args = after["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--log-format=plain" in args
    wait_for(
        lambda: (
            deployment()["status"].get("updatedReplicas") == 1
            and deployment()["status"].get("observedGeneration") == after["metadata"]["generation"]
        ),
        120,
        "the operator Deployment rolled out",
    )
    replica_sets = get_json(
        local_cluster,
        "-n",
        release.namespace,
        "replicasets",
        "-l",
        f"app.kubernetes.io/instance={RELEASE}",
    )
    assert len({rs["metadata"]["labels"]["pod-template-hash"] for rs in replica_sets["items"]}) == 2


def test_operator_deletes_the_cluster_with_the_charts_rbac(
    local_cluster: Any, release: Release, chart_operator: Path
) -> None:
    """The documented order: AirflowClusters first, while the operator runs (the chart keeps
    its AirflowCluster on uninstall, so a release's removal never deletes a database)."""
    local_cluster.kubectl(
        "-n", release.namespace, "delete", "airflowcluster/minimal", "--wait", "--timeout=180s",
        timeout=200,
    )  # fmt: skip
    assert_nothing_forbidden(local_cluster, release.namespace, chart_operator)


def test_uninstall_leaves_no_operator_objects(
    helm: Helm, local_cluster: Any, release: Release
) -> None:
    selector = f"app.kubernetes.io/instance={RELEASE}"
    kinds = "serviceaccounts,roles,rolebindings,deployments,networkpolicies"
    assert get_json(local_cluster, "-n", release.namespace, kinds, "-l", selector)["items"]
    helm.run(
        "uninstall", RELEASE, "--namespace", release.namespace, "--wait", "--timeout", "3m",
        kubeconfig=local_cluster.kubeconfig,
    )  # fmt: skip
    for namespace in (release.namespace, OBSERVABILITY):
        left = get_json(local_cluster, "-n", namespace, kinds, "-l", selector)["items"]
        assert left == [], [item["metadata"]["name"] for item in left]
    cluster_wide = get_json(local_cluster, "clusterroles,clusterrolebindings", "-l", selector)
    assert [item["metadata"]["name"] for item in cluster_wide["items"]] == []
    assert json.loads(helm.run("list", "--namespace", release.namespace, "--output", "json",
                               kubeconfig=local_cluster.kubeconfig).stdout) == []  # fmt: skip
