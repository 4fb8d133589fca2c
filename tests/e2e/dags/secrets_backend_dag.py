"""A task that reads a connection and a variable the e2e test keeps in Secrets Manager
(tests/e2e/test_runs.py), through the secrets backend spec.airflow.secretsBackend configures,
and a variable that only the environment holds; it returns what it read, never a password."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook, Variable, dag, task


@dag(schedule=None, catchup=False, tags=["farflow-e2e"])
def secrets_backend_dag() -> None:
    @task
    def read_the_warehouse() -> dict[str, Any]:
        connection = BaseHook.get_connection("warehouse_db")
        return {
            "host": connection.host,
            "login": connection.login,
            "port": connection.port,
            "has_password": bool(connection.password),
            "table": Variable.get("warehouse_table"),
            "bucket": Variable.get("data_bucket"),  # AIRFLOW_VAR_DATA_BUCKET
        }

    read_the_warehouse()


secrets_backend_dag()
