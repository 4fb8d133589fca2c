"""The Ecs executor's task container: a worker's environment, plain values apart from the
secret ones (farflow.plan.ecs_executor)."""

from __future__ import annotations

import json

import pytest

from farflow.api.names import SecretRef
from farflow.plan.ecs_executor import EXECUTION_API, executor_env
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
