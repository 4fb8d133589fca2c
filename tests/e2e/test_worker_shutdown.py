"""A worker told to stop finishes its running task first: Celery's warm shutdown.

The kubelet stops a pod (a rollout, a scale-in, a Fargate patch eviction) with SIGTERM to the
container's PID 1, the image's dumb-init. With the DUMB_INIT_SETSID=0 the operator sets on
workers, dumb-init passes it to Celery's main process alone, which stops taking tasks, waits
for the running ones and exits; in dumb-init's default mode the whole process group got it,
and the task's supervisor killed the task at once.

Before a scale-in the autoscaler asks Airflow which worker runs how many tasks, so the
ReplicaSet removes the idlest workers first."""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from airflow.utils.net import get_hostname

from farflow.airflow_api import Endpoint, running_by_host
from tests.e2e.conftest import Stack
from tests.e2e.test_worker_loss import DAG, TASK, start_long_task
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.e2e


def test_airflow_tells_the_autoscaler_which_worker_runs_a_task(stack: Stack) -> None:
    run_id = start_long_task(stack)
    endpoint = Endpoint(stack.site.api_url, stack.api.username, stack.api.password)
    # The worker's hostname is its pod's name on EKS; here, this machine's.
    host = get_hostname().split(".")[0]  # type: ignore[no-untyped-call]
    assert running_by_host(endpoint) == Counter({host: 1})
    assert stack.api.wait_for_run(DAG, run_id, 120, stack.assert_alive) == "success"
    assert running_by_host(endpoint) == Counter()


def test_a_stopping_worker_finishes_its_task_then_exits(stack: Stack) -> None:
    run_id = start_long_task(stack)
    worker = stack.current["worker"]
    worker.send(signal.SIGTERM)  # to dumb-init, the container's PID 1

    wait_until(lambda: not worker.alive(), 300, "the worker exiting", interval=1)
    # Only now, with the worker gone, is the task looked at: it had finished before.
    [task] = stack.api.task_instances(DAG, run_id)
    assert task["state"] == "success", task
    assert task["try_number"] == 1
    log = worker.log.read_text()
    assert "worker: Warm shutdown (MainProcess)" in log
    assert "working: 30/30 s" in stack.api.log(DAG, run_id, TASK)
    assert worker.popen is not None
    assert worker.popen.returncode == 0, worker.tail()
    worker.kill()  # reaped; a new worker takes the queue for the tests after this one
    stack.start("worker", "worker-after-shutdown")
    assert stack.api.wait_for_run(DAG, run_id, 120, stack.assert_alive) == "success"
