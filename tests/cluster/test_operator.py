"""The operator as a process on the real control plane, with AWS on moto's server."""

from __future__ import annotations

import random
import time
from typing import Any

import boto3
import pytest
import yaml

from farflow.api.spec import DEFAULT_AIRFLOW_VERSION, FARFLOW_AIRFLOW_IMAGE
from farflow.tenancy import opt_in_label
from tests.cases import MINIMAL, load
from tests.fixtures.operator import (
    Operator,
    apply_cluster,
    audit_writes,
    children,
    create_secret,
    expected_children,
    get_json,
    sleep_resyncs,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.cluster
NEW_IMAGE = f"{FARFLOW_AIRFLOW_IMAGE}:{DEFAULT_AIRFLOW_VERSION}"


def test_minimal_cluster_becomes_ready(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)

    cluster = get_json(local_cluster, "-n", namespace, "af/minimal")
    assert cluster["status"]["phase"] == "Running"
    assert cluster["status"]["airflowVersion"] == "3.3.2"
    workers = cluster["status"]["workers"]
    assert (workers["desired"], workers["ready"], workers["readyOfDesired"]) == (1, 1, "1/1")

    def looked() -> bool:  # the autoscaler's first look reaches status at the next pass
        shown = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]["workers"]
        return bool(shown["waiting"] == 0 and shown["running"] == 0)

    wait_for(looked, 30, "the autoscaler's look in status.workers")
    assert cluster["status"]["apiServerUrl"] == (
        f"http://minimal-api-server.{namespace}.svc.cluster.local:8080"
    )
    assert children(local_cluster, namespace) == expected_children(namespace)
    table = local_cluster.kubectl("-n", namespace, "get", "af").stdout
    assert table.split()[:6] == ["NAME", "PHASE", "AIRFLOW", "WORKERS", "URL", "AGE"]
    assert "Running" in table
    assert "3.3.2" in table
    assert "1/1" in table
    events = get_json(
        local_cluster, "-n", namespace, "events", "--field-selector", "involvedObject.name=minimal"
    )
    assert {"Created", "Migrating", "Rolled"} <= {e["reason"] for e in events["items"]}


def test_settled_cluster_resyncs_without_writing(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    sleep_resyncs(1)  # let the last status write land
    since = time.time() + 1
    sleep_resyncs(3)
    assert audit_writes(local_cluster.audit_log, namespace, since) == []


def test_drift_is_repaired(local_cluster: Any, namespace: str, operator: Operator) -> None:
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    kubectl = local_cluster.kubectl
    kubectl("-n", namespace, "delete", "deployment", "minimal-scheduler", "--wait=false")
    kubectl("-n", namespace, "delete", "service", "minimal-api-server", "--wait=false")
    kubectl(
        "-n",
        namespace,
        "patch",
        "configmap",
        "minimal-airflow-config",
        "--type=merge",
        "-p",
        '{"data": {"AIRFLOW__CELERY__BROKER_URL": "redis://evil:6379/0"}}',
    )

    def repaired() -> bool:
        config = get_json(local_cluster, "-n", namespace, "configmap/minimal-airflow-config")
        get_json(local_cluster, "-n", namespace, "deployment/minimal-scheduler")
        get_json(local_cluster, "-n", namespace, "service/minimal-api-server")
        return bool(config["data"]["AIRFLOW__CELERY__BROKER_URL"] == "sqs://")

    wait_for(repaired, 4 * 3 + 10, "deleted and edited children restored")
    wait_ready(local_cluster, namespace)


def test_image_change_migrates_before_rolling(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    """An upgrade of Airflow (from a team's own image of 3.3.1 to FarFlow's image of the
    default version) migrates first."""
    older = {"version": "3.3.1", "image": {"repository": "registry.example.com/airflow"}}
    apply_cluster(local_cluster, namespace, {"spec": {"airflow": older}})
    wait_ready(local_cluster, namespace)
    apply_cluster(local_cluster, namespace)  # the upgrade to the default version
    wait_for(
        lambda: (
            get_json(local_cluster, "-n", namespace, "af/minimal")["status"]["airflowVersion"]
            == DEFAULT_AIRFLOW_VERSION
        ),
        60,
        "the new version in status, once every component runs it",
    )
    wait_ready(local_cluster, namespace)

    [job] = get_json(local_cluster, "-n", namespace, "jobs")["items"]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
    migrated = job["status"]["completionTime"]
    sets = get_json(local_cluster, "-n", namespace, "replicasets")["items"]
    new_sets = [
        rs for rs in sets if rs["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
    ]
    assert len(new_sets) == 5
    assert all(rs["metadata"]["creationTimestamp"] >= migrated for rs in new_sets)
    by_component = {
        rs["metadata"]["labels"]["app.kubernetes.io/component"]: rs["metadata"]["creationTimestamp"]
        for rs in new_sets
    }
    assert by_component["api-server"] <= by_component["scheduler"] <= by_component["worker"]


def test_deleting_the_cluster_removes_every_child(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    local_cluster.kubectl("-n", namespace, "delete", "af/minimal", "--timeout=60s")
    wait_for(lambda: children(local_cluster, namespace) == [], 60, "every child collected")


def test_deleting_a_cluster_with_nothing_in_aws_cleans_its_task_namespace(
    local_cluster: Any, namespace: str, operator: Operator, aws_env: None
) -> None:
    """The finalizer holds every cluster, not only those with AWS resources: the objects in
    another task namespace have no owner to be collected with."""
    tasks = f"{namespace}-tasks"
    local_cluster.kubectl("create", "namespace", tasks)
    local_cluster.kubectl("label", "namespace", tasks, f"{opt_in_label(namespace)}=true")
    boto3.client("sqs").create_queue(QueueName=f"farflow-{namespace}-minimal-default")
    create_secret(local_cluster, namespace, "airflow-admin", password="not-the-real-one")
    nothing_in_aws = {
        "pods": {"namespace": tasks},
        "broker": {"sqs": {"create": False}},
        "logging": {"cloudwatch": {"enabled": False}},
        "admin": {"passwordSecretRef": {"name": "airflow-admin"}},
    }
    apply_cluster(local_cluster, namespace, {"spec": nothing_in_aws})
    wait_ready(local_cluster, namespace)
    assert {kind for kind, _ in children(local_cluster, tasks)} == {"RoleBinding", "ServiceAccount"}
    cluster = get_json(local_cluster, "-n", namespace, "af/minimal")
    assert cluster["metadata"]["finalizers"] == ["farflow.io/aws-cleanup"]
    local_cluster.kubectl("-n", namespace, "delete", "af/minimal", "--timeout=60s")
    wait_for(
        lambda: children(local_cluster, namespace) == children(local_cluster, tasks) == [],
        60,
        "nothing of the cluster left in either namespace",
    )


def test_switching_off_the_triggerer_prunes_it(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    apply_cluster(local_cluster, namespace, {"spec": {"triggerer": {"enabled": False}}})
    wait_for(
        lambda: ("Deployment", "minimal-triggerer") not in children(local_cluster, namespace),
        30,
        "the triggerer pruned",
    )
    assert ("PodDisruptionBudget", "minimal-triggerer") not in children(local_cluster, namespace)


def test_suspend_scales_to_zero_and_keeps_data(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    secret = get_json(local_cluster, "-n", namespace, "secret/minimal-airflow-secrets")
    apply_cluster(local_cluster, namespace, {"spec": {"suspend": True}})
    wait_for(
        lambda: (
            get_json(local_cluster, "-n", namespace, "af/minimal")["status"]["phase"] == "Suspended"
        ),
        60,
        "phase Suspended",
    )
    deployments = get_json(local_cluster, "-n", namespace, "deployments")["items"]
    assert {d["spec"]["replicas"] for d in deployments} == {0}
    kept = get_json(local_cluster, "-n", namespace, "secret/minimal-airflow-secrets")
    assert kept["data"] == secret["data"]


def test_declared_pools_wait_for_airflow_and_say_where_it_did_not_answer(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    """The control plane's pods run no Airflow: the operator tries once the API server is
    available, says where it found none, and the cluster stays Running."""
    apply_cluster(local_cluster, namespace, {"spec": {"airflow": {"pools": [
        {"name": "loads", "slots": 2}]}}})  # fmt: skip
    wait_ready(local_cluster, namespace)

    def synced() -> dict[str, Any]:
        status = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]
        return next(c for c in status["conditions"] if c["type"] == "AirflowObjectsSynced")

    wait_for(lambda: synced()["reason"] == "AirflowUnreachable", 60, "AirflowObjectsSynced")
    url = f"http://minimal-api-server.{namespace}.svc.cluster.local:8080"
    assert synced()["status"] == "False"
    assert synced()["message"].startswith(f"cannot sign in to Airflow at {url}: ")
    status = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]
    assert status["phase"] == "Running"  # advisory: Airflow itself serves
    assert "airflowObjects" not in status  # nothing was created


def test_missing_database_secret_is_reported(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    manifest = load(MINIMAL)
    local_cluster.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(manifest))

    def reported() -> bool:
        status = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]
        database = next(c for c in status["conditions"] if c["type"] == "DatabaseReady")
        return bool(database["status"] == "False" and database["reason"] == "SecretNotFound")

    wait_for(reported, 30, "DatabaseReady=False with SecretNotFound")
    assert children(local_cluster, namespace) == []


# Kills at random points of the reconcile, each after a start (the liveness endpoint up):
# ten of them cover its steps without the start-up time of twenty (about 300 s in CI).
KILLS = 10


def test_killed_operator_converges_without_duplicates(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    operator.kill()
    apply_cluster(local_cluster, namespace)
    chance = random.Random(20)
    for _ in range(KILLS):
        operator.start()
        time.sleep(chance.uniform(0.0, 2.5))
        operator.kill()
    operator.start()
    wait_ready(local_cluster, namespace)
    assert children(local_cluster, namespace) == expected_children(namespace)
