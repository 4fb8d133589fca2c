"""A 30-second task on the Celery workers: the e2e tests kill its worker while it runs and
check that another worker completes it (tests/e2e/test_worker_loss.py), and stop its worker
and check that the worker finishes it first (tests/e2e/test_worker_shutdown.py).

The work is a shell loop, as many tasks run a program: Airflow 3.3's task supervisor passes a
SIGTERM it gets on to the task, whose operator's on_kill() then stops that program (here
BashOperator's), where a plain Python callable would carry on regardless."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import dag

RUN_SECONDS = 30


@dag(
    schedule=None,
    catchup=False,
    tags=["farflow-e2e"],
    default_args={"owner": "farflow-e2e", "retries": 2, "retry_delay": timedelta(seconds=5)},
)
def celery_long_task() -> None:
    BashOperator(
        task_id="work_for_a_while",
        bash_command=(
            f"for second in $(seq {RUN_SECONDS}); do "
            f'echo "working: $second/{RUN_SECONDS} s"; sleep 1; done'
        ),
    )


celery_long_task()
