"""Ten no-op tasks in a chain: what one task's end costs before the next one starts."""

from __future__ import annotations

import pendulum
from airflow.sdk import chain, dag, task

LENGTH = 10


@task
def step() -> None:
    """Nothing: the time measured is Airflow's alone."""


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def bench_chain() -> None:
    chain(*(step.override(task_id=f"step_{index:02d}")() for index in range(LENGTH)))


bench_chain()
