"""spec.airflow.secretsBackend: a connection and a variable kept in Secrets Manager (moto's)
reach a task, only the ids its lookup patterns name are looked up there, and the connection's
password shows up in no log."""

from __future__ import annotations

import json
import secrets

import boto3
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.dag_runs import run_all
from tests.fixtures.aws import AIRFLOW_PODS_KEY
from tests.fixtures.aws_proxy import AwsProxy

pytestmark = pytest.mark.e2e

DAG = "secrets_backend_dag"


def test_a_connection_and_a_variable_in_secrets_manager_reach_a_task(
    stack: Stack, aws_proxy: AwsProxy
) -> None:
    kwargs = json.loads(stack.plan.config["AIRFLOW__SECRETS__BACKEND_KWARGS"])
    connection = f"{kwargs['connections_prefix']}/warehouse_db"
    variable = f"{kwargs['variables_prefix']}/warehouse_table"
    password = secrets.token_urlsafe(16)
    stored = {"conn_type": "postgres", "host": "warehouse.internal", "login": "loader",
              "password": password, "port": 5439}  # fmt: skip
    manager = boto3.client("secretsmanager")
    manager.create_secret(Name=connection, SecretString=json.dumps(stored))
    manager.create_secret(Name=variable, SecretString="orders_2026")

    run = run_all(stack, (DAG,))[DAG]

    assert run.state == "success", run.tasks
    assert stack.api.xcom(DAG, run.run_id, "read_the_warehouse") == {
        "host": "warehouse.internal",
        "login": "loader",
        "port": 5439,
        "has_password": True,
        "table": "orders_2026",
        "bucket": stack.data_bucket,  # from the environment: data_bucket is not looked up
    }
    looked_up = {
        arn.split(":secret:", 1)[1]
        for action, arn in aws_proxy.pairs(principal=AIRFLOW_PODS_KEY)
        if action == "secretsmanager:GetSecretValue"
    }
    prefixes = (kwargs["connections_prefix"], kwargs["variables_prefix"])
    assert {name for name in looked_up if name.startswith(prefixes)} == {connection, variable}
    logs = {name: p.log.read_text(errors="replace") for name, p in stack.running.items()}
    logs["the task"] = stack.api.log(DAG, run.run_id, "read_the_warehouse")
    leaked = [name for name, text in logs.items() if password in text]
    assert not leaked, f"the connection's password is in the logs of {leaked}"
