"""DAGs that need what spec.airflow brings from S3: a requirement (imported as the file is
parsed, so the DAG processor needs it too), a plugin's macro and a variable the startup
script exports (AIRFLOW_VAR_STARTUP_GREETING)."""

from __future__ import annotations

import farflow_e2e_extra  # type: ignore[import-not-found]  # installed by farflow_bootstrap
from airflow.sdk import Variable, dag, task

TAGS = ["farflow", "test"]


@dag(dag_id="bootstrap_requirement", schedule=None, catchup=False, tags=TAGS)
def bootstrap_requirement() -> None:
    @task
    def greet() -> str:
        greeting = str(farflow_e2e_extra.GREETING)
        assert greeting == "hello from a requirement"
        return greeting

    greet()


@dag(dag_id="bootstrap_plugin", schedule=None, catchup=False, tags=TAGS)
def bootstrap_plugin() -> None:
    @task(templates_dict={"greeting": "{{ macros.farflow_greeting.greet('plugins') }}"})
    def greet(templates_dict: dict[str, str] | None = None) -> str:
        assert templates_dict is not None
        assert templates_dict["greeting"] == "hello from plugins"
        return templates_dict["greeting"]

    greet()


@dag(dag_id="bootstrap_startup", schedule=None, catchup=False, tags=TAGS)
def bootstrap_startup() -> None:
    @task
    def greet() -> str:
        greeting = Variable.get("startup_greeting")
        assert greeting == "hello from the startup script"
        return str(greeting)

    greet()


bootstrap_requirement()
bootstrap_plugin()
bootstrap_startup()
