"""Running the example DAGs through Airflow's REST API, as a user's script would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.fixtures.processes import wait_until

if TYPE_CHECKING:
    from tests.e2e.conftest import Stack

DAGS = (
    "etl_celery", "ecs_dag", "emr_dag", "pod_dag", "kubernetes_executor_dag", "ecs_executor_dag",
)  # fmt: skip
RUN_TIMEOUT = 600


@dataclass(frozen=True)
class Run:
    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, str | None]


def wait_until_parsed(stack: Stack, dag_ids: tuple[str, ...], timeout: float = 300) -> None:
    """The DAG processor has read every DAG from the S3 bundle."""
    missing = list(dag_ids)

    def parsed() -> bool:
        missing[:] = [dag_id for dag_id in missing if stack.api.dag(dag_id) is None]
        return not missing

    try:
        wait_until(parsed, timeout, "the DAG processor parsing the DAGs", interval=2)
    except TimeoutError as error:
        raise AssertionError(
            f"never parsed: {missing}\n{stack.running['dag-processor'].tail()}"
        ) from error


def run_all(stack: Stack, dag_ids: tuple[str, ...]) -> dict[str, Run]:
    """Triggers every DAG at once and waits for each run to finish."""
    wait_until_parsed(stack, dag_ids)
    triggered = {}
    for dag_id in dag_ids:
        stack.api.unpause(dag_id)
        triggered[dag_id] = stack.api.trigger(dag_id)
    runs = {}
    for dag_id, run_id in triggered.items():
        state = stack.api.wait_for_run(dag_id, run_id, RUN_TIMEOUT, stack.assert_alive)
        runs[dag_id] = Run(dag_id, run_id, state, stack.api.task_states(dag_id, run_id))
    return runs
