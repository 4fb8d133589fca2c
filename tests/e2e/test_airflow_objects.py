"""Declared pools, variables and connections, synced by the operator's own code
(farflow.airflow_objects, as the reconcile calls it) into the e2e stack's Airflow: a pool of
2 slots holds a fan-out to 2 running tasks, an edited variable reaches the next run, a pool
edited by hand is set back, a pool removed from the spec is deleted, and one FarFlow did not
create is never touched."""

from __future__ import annotations

import copy
import json
import secrets
from datetime import datetime
from typing import Any

import pytest
import yaml
from kubernetes import config

from farflow.airflow_api import Endpoint
from farflow.airflow_objects import declared, secret_reader, sync
from farflow.api import parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.api.status import AirflowObjectsStatus, Condition
from farflow.kube.client import Kube
from tests.controlplane.localcluster import LocalCluster
from tests.e2e.airflow_api import ApiError
from tests.e2e.conftest import EXAMPLE, Stack
from tests.e2e.dag_runs import run_all

pytestmark = pytest.mark.e2e

PASSWORD = secrets.token_urlsafe(16)
CONNECTION = {"conn_type": "postgres", "host": "warehouse.internal", "login": "loader",
              "password": PASSWORD, "port": 5439}  # fmt: skip
DECLARED: dict[str, list[dict[str, Any]]] = {
    "pools": [{"name": "e2e_loads", "slots": 2, "description": "the warehouse's loads"}],
    "variables": [{"name": "e2e_greeting", "value": "hello"}],
    "connections": [
        {"name": "e2e_warehouse", "secretKeyRef": {"name": "e2e-warehouse", "key": "connection"}}
    ],
}


def cluster(namespace: str, declared_objects: dict[str, Any]) -> ResolvedCluster:
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"]["namespace"] = namespace
    manifest["spec"]["airflow"] |= copy.deepcopy(declared_objects)
    return resolve(parse(manifest))


class Syncing:
    """The operator's sync, pass after pass, carrying its status over as the reconcile does."""

    def __init__(self, stack: Stack, kube: Kube, namespace: str) -> None:
        self.endpoint = Endpoint(stack.api.base_url, stack.api.username, stack.api.password)
        self.kube, self.namespace = kube, namespace
        self.status: AirflowObjectsStatus | None = None

    def apply(self, declared_objects: dict[str, Any]) -> Condition:
        resolved = cluster(self.namespace, declared_objects)
        wanted = declared(resolved.spec.airflow, secret_reader(resolved, self.kube))
        self.status, condition = sync(self.endpoint, wanted, self.status)
        assert PASSWORD not in condition.message
        return condition


def test_declared_objects_are_kept_as_declared(
    stack: Stack, local_cluster: LocalCluster, e2e_namespace: str
) -> None:
    kube = Kube(config.new_client_from_config(config_file=str(local_cluster.kubeconfig)))
    create_connection_secret(local_cluster, e2e_namespace)
    stack.api.request("POST", "/api/v2/pools", {"name": "e2e_theirs", "slots": 1})
    syncing = Syncing(stack, kube, e2e_namespace)

    first = syncing.apply(DECLARED)
    assert first.holds, first.message
    assert syncing.status is not None
    assert (syncing.status.pools, syncing.status.variables, syncing.status.connections) == (
        ["e2e_loads"],
        ["e2e_greeting"],
        ["e2e_warehouse"],
    )
    runs = run_all(stack, ("pool_fan_out", "declared_objects_dag"))
    fan_out = runs["pool_fan_out"]
    assert fan_out.state == "success", fan_out.tasks
    instances = stack.api.task_instances("pool_fan_out", fan_out.run_id)
    assert {ti["pool"] for ti in instances} == {"e2e_loads"}
    assert most_at_once(instances) == 2  # 5 worker slots, 2 pool slots
    assert read_declared(stack, runs["declared_objects_dag"].run_id) == {
        "greeting": "hello", "host": "warehouse.internal", "has_password": True,
    }  # fmt: skip

    by_hand = {"pool": "e2e_loads", "slots": 7, "include_deferred": False}
    stack.api.request("PATCH", "/api/v2/pools/e2e_loads", by_hand)  # drift
    edited = copy.deepcopy(DECLARED)
    edited["variables"][0]["value"] = "bonjour"
    assert syncing.apply(edited).holds
    assert stack.api.request("GET", "/api/v2/pools/e2e_loads")["slots"] == 2
    [again] = run_all(stack, ("declared_objects_dag",)).values()
    assert read_declared(stack, again.run_id)["greeting"] == "bonjour"

    local_cluster.kubectl("-n", e2e_namespace, "delete", "secret", "e2e-warehouse")
    lost = syncing.apply(edited)
    assert (lost.holds, lost.reason) == (False, "SyncFailed")
    assert "connection e2e_warehouse: Secret e2e-warehouse has no key connection" in lost.message
    kept = stack.api.request("GET", "/api/v2/connections/e2e_warehouse")
    assert kept["host"] == "warehouse.internal"  # an unreadable secret deletes nothing
    create_connection_secret(local_cluster, e2e_namespace)

    removed = syncing.apply({**edited, "pools": []})
    assert removed.holds, removed.message
    assert pool(stack, "e2e_loads") is None
    assert pool(stack, "e2e_theirs") is not None  # never FarFlow's
    assert syncing.status is not None
    assert syncing.status.pools == []
    logs = {name: p.log.read_text(errors="replace") for name, p in stack.running.items()}
    assert not [name for name, text in logs.items() if PASSWORD in text]


def create_connection_secret(local_cluster: LocalCluster, namespace: str) -> None:
    local_cluster.kubectl(
        "-n",
        namespace,
        "create",
        "secret",
        "generic",
        "e2e-warehouse",
        "--from-file=connection=/dev/stdin",
        input=json.dumps(CONNECTION),
    )  # fmt: skip (the password on stdin: in no argv a failure would print)


def read_declared(stack: Stack, run_id: str) -> Any:
    return stack.api.xcom("declared_objects_dag", run_id, "read_declared")


def pool(stack: Stack, name: str) -> Any:
    try:
        return stack.api.request("GET", f"/api/v2/pools/{name}")
    except ApiError as error:
        if error.status == 404:
            return None
        raise


def most_at_once(instances: list[dict[str, Any]]) -> int:
    """The most task instances that ran at one moment, from their start and end times."""
    events = sorted(
        (datetime.fromisoformat(ti[edge]), step)
        for ti in instances
        for edge, step in (("start_date", 1), ("end_date", -1))
    )  # at a tie an end comes first: -1 sorts before 1
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most
