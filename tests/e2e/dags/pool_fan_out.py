"""Six short tasks in the pool the e2e test declares with 2 slots
(tests/e2e/test_airflow_objects.py): no more than 2 may run at once, though the worker has
room for 5."""

from __future__ import annotations

import time

from airflow.sdk import dag, task

POOL = "e2e_loads"


@dag(schedule=None, catchup=False, tags=["farflow-e2e"])
def pool_fan_out() -> None:
    @task(pool=POOL)
    def load(part: int) -> int:
        time.sleep(3)
        return part

    load.expand(part=list(range(6)))


pool_fan_out()
