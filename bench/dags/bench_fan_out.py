"""Fifty no-op tasks at once: how fast a worker of concurrency 5 takes queued tasks."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

WIDTH = 50


@task
def leaf() -> None:
    """Nothing: the time measured is Airflow's alone."""


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def bench_fan_out() -> None:
    for index in range(WIDTH):
        leaf.override(task_id=f"leaf_{index:02d}")()


bench_fan_out()
