"""A 30-second task on the Celery workers: the e2e tests kill its worker while it runs and
check that another worker completes it (tests/e2e/test_worker_loss.py)."""

from __future__ import annotations

import time
from datetime import timedelta

from airflow.sdk import dag, task

RUN_SECONDS = 30


@dag(
    schedule=None,
    catchup=False,
    tags=["farflow-e2e"],
    default_args={"owner": "farflow-e2e", "retries": 2, "retry_delay": timedelta(seconds=5)},
)
def celery_long_task() -> None:
    @task
    def work_for_a_while() -> int:
        for second in range(RUN_SECONDS):
            print(f"working: {second + 1}/{RUN_SECONDS} s", flush=True)
            time.sleep(1)
        return RUN_SECONDS

    work_for_a_while()


celery_long_task()
