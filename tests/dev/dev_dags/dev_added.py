"""A DAG the dev tests copy into the DAG folder of a running `farflow dev` cluster."""

from __future__ import annotations

from airflow.sdk import dag, task


@dag(dag_id="dev_added", schedule=None, catchup=False, tags=["farflow", "test"])
def dev_added() -> None:
    @task
    def hello() -> str:
        return "added while running"

    hello()


dev_added()
