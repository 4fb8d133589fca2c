"""Reads the variable and the connection the e2e test declares in spec.airflow
(tests/e2e/test_airflow_objects.py) and returns what it read, never a password."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook, Variable, dag, task


@dag(schedule=None, catchup=False, tags=["farflow-e2e"])
def declared_objects_dag() -> None:
    @task
    def read_declared() -> dict[str, Any]:
        connection = BaseHook.get_connection("e2e_warehouse")
        return {
            "greeting": Variable.get("e2e_greeting"),
            "host": connection.host,
            "has_password": bool(connection.password),
        }

    read_declared()


declared_objects_dag()
