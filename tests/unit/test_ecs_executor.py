"""The Ecs executor's task container: a worker's environment, plain values apart from the
secret ones (farflow.plan.ecs_executor)."""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import pytest

from farflow import ecs_executor
from farflow.api import parse, resolve
from farflow.api.names import SecretRef
from farflow.aws.facts import offline
from farflow.kube.client import Kube
from farflow.manifests.runtime import IMAGE_ENTRYPOINT
from farflow.plan import plan
from farflow.plan.ecs_executor import EXECUTION_API, executor_env
from farflow.runtime import BOOTSTRAP_DIR, RUNTIME_DIR
from tests.cases import TASKS, load, merged
from tests.unit.planning import planned

pytestmark = pytest.mark.unit

SECRETS = {
    ("minimal-airflow-secrets", "fernet-key"): "fernet-value",
    ("minimal-airflow-secrets", "jwt-secret"): "jwt-value",
    ("minimal-airflow-secrets", "api-secret-key"): "api-value",
    ("airflow-db", "connection"): "postgresql+psycopg2://airflow:db-password@db/airflow",
    ("git-token", "username"): "git-user",
    ("git-token", "password"): "git-password",
    ("extra", "token"): "user-token",
}
SPEC = {
    "dags": {
        "image": None,
        "git": {"repo": "https://github.com/example/dags", "credentialsSecretRef": "git-token"},
    },
    "airflow": {
        "env": [
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "extra", "key": "token"}}},
            {"name": "PLAIN", "value": "plain-value"},
        ]
    },
}


def read(ref: SecretRef) -> str:
    return SECRETS[(ref.name, ref.key)]


def test_secret_variables_are_apart_and_plain_ones_are_the_workers() -> None:
    made = planned({"spec": SPEC})
    env = executor_env(made, "http://internal-nlb.elb.amazonaws.com:8080", read)
    assert set(env.secrets) == {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "FARFLOW_GIT_USERNAME",
        "FARFLOW_GIT_PASSWORD",
        "AIRFLOW_CONN_FARFLOW_GIT",  # its $(VAR)s expand to the credentials: secret too
        "TOKEN",
    }
    git = json.loads(env.secrets["AIRFLOW_CONN_FARFLOW_GIT"])
    assert (git["login"], git["password"]) == ("git-user", "git-password")
    assert env.environment["PLAIN"] == "plain-value"
    assert env.environment["DUMB_INIT_SETSID"] == "0"  # the worker's own
    for name, value in made.config.items():  # every Airflow setting of the cluster
        if name != EXECUTION_API:
            assert env.environment[name] == value
    everything = json.dumps(env.environment)
    assert not [value for value in SECRETS.values() if value in everything]
    assert "fernet-value" not in repr(env)  # a log line of it shows no secret


def test_the_tasks_reach_the_execution_api_where_they_run() -> None:
    made = planned()
    env = executor_env(made, "https://airflow.internal.example/", read)
    assert env.environment[EXECUTION_API] == "https://airflow.internal.example/execution/"
    assert "svc.cluster.local" in made.config[EXECUTION_API]  # the pods' address, not ECS's


def executor_definition(patch: dict[str, Any]) -> ecs_executor.ExecutorDefinition:
    """The definition of the tasks example's Ecs executor; every Secret key reads "x"."""
    resolved = resolve(parse(merged(load(TASKS), patch)))
    facts = offline(resolved, "123456789012")
    made = plan(resolved, facts)
    worker = made.component("worker")
    assert worker is not None
    refs = [e.secret for e in (*made.secret_env, *worker.env) if e.secret is not None]
    read: dict[str, dict[str, str]] = {}
    for ref in refs:
        read.setdefault(ref.name, {})[ref.key] = base64.b64encode(b"x").decode()
    kube = cast("Kube", None)  # read only for the load balancer: apiServerUrl is set
    wanted = ecs_executor.definition(resolved, made, facts, kube, read)
    assert isinstance(wanted, ecs_executor.ExecutorDefinition)
    return wanted


@pytest.mark.parametrize("script", [True, False])
def test_with_a_bootstrap_the_tasks_entry_point_runs_it_before_the_command(script: bool) -> None:
    """ECS tasks have no init containers: the definition's entry point runs farflow_bootstrap
    in the task's container, then the executor's command (through the startup script's
    runner when there is one), with the variables the pods' init container gets."""
    brought: dict[str, Any] = {"requirements": {"packages": ["farflow-e2e-extra==1.0"]}}
    if script:
        brought["startupScript"] = {"bucket": "mwaa-assets", "key": "startup.sh"}
    patch = {"spec": {"ecs": {"apiServerUrl": "https://airflow.internal"}, "airflow": brought}}
    wanted = executor_definition(patch)
    *entrypoint, bash, flag, shell, name = wanted.entry_point
    assert (tuple(entrypoint), bash, flag, name) == (
        IMAGE_ENTRYPOINT, "bash", "-c", "farflow-ecs-task",
    )  # fmt: skip
    then = 'exec python -m farflow_startup "$@"' if script else 'exec "$@"'
    assert shell == f"python -m farflow_bootstrap && {then}"
    env = wanted.env.environment
    assert json.loads(env["FARFLOW_BOOTSTRAP"]) == brought
    assert env["FARFLOW_BOOTSTRAP_DIR"] == BOOTSTRAP_DIR
    assert env["PYTHONPATH"] == f"{BOOTSTRAP_DIR}/python:{RUNTIME_DIR}"
    assert ("FARFLOW_STARTUP_SCRIPT" in env) is script
    plain = executor_definition({"spec": {"ecs": patch["spec"]["ecs"]}})
    assert plain.entry_point == ()
    assert plain.fingerprint != wanted.fingerprint


def test_the_tasks_push_no_metrics_to_a_collector_they_cannot_reach() -> None:
    made = planned({"spec": {"metrics": {"enabled": True}}})
    assert made.config["AIRFLOW__METRICS__OTEL_ON"] == "True"  # the pods push
    env = executor_env(made, "https://airflow.internal.example/", read).environment
    assert env["AIRFLOW__METRICS__OTEL_ON"] == "False"
    assert not [name for name in env if name.startswith("OTEL_")]
    without = executor_env(planned(), "https://a/", read).environment
    assert "AIRFLOW__METRICS__OTEL_ON" not in without
