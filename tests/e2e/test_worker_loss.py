"""No task is lost when a Celery worker dies: SIGKILL the worker while a 30-second task runs,
start a new one, and the run still succeeds.

What happens, as this test sees it: the task's SQS message was never acknowledged
(acks_late), so SQS hands it to the new worker once the visibility timeout the operator
derived from spec.airflow.longestTaskSeconds has passed. Airflow's Celery provider sees the
try still marked running and leaves it alone; the scheduler then fails that try for its
missed heartbeats ([scheduler] task_instance_heartbeat_timeout, derived too) and retries it,
on the new worker.
A worker that dies before its task started running loses nothing either: the redelivered
message runs the task."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.dag_runs import wait_until_parsed
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.e2e

DAG = "celery_long_task"
TASK = "work_for_a_while"


def start_long_task(stack: Stack) -> str:
    """Triggers the 30-second task; returns its run once the task is five seconds in."""
    wait_until_parsed(stack, (DAG,))
    stack.api.unpause(DAG)
    run_id = stack.api.trigger(DAG)
    wait_until(
        lambda: stack.api.task_states(DAG, run_id).get(TASK) == "running",
        300,
        f"{TASK} running",
        interval=1,
    )
    wait_until(
        lambda: "working: 5/30 s" in stack.api.log(DAG, run_id, TASK),
        120,
        f"{TASK} five seconds into its work",
        interval=1,
    )
    return run_id


def test_a_task_survives_the_death_of_its_worker(stack: Stack) -> None:
    run_id = start_long_task(stack)
    stack.current["worker"].kill(signal.SIGKILL)
    replacement = stack.start("worker", "worker-after-kill")

    state = stack.api.wait_for_run(DAG, run_id, 900, stack.assert_alive)

    [task] = stack.api.task_instances(DAG, run_id)
    assert state == "success", task
    assert task["try_number"] == 2
    log = replacement.log.read_text()
    assert "ignoring redelivered message" in log  # SQS gave the killed worker's task back
    assert task["id"] in log  # the retry ran on the new worker
