"""The timeouts around a task's life, derived from one setting: how long the longest task
runs (spec.airflow.longestTaskSeconds, L below). Set apart, they contradict each other: a
visibility timeout shorter than a task hands it to a second worker, a grace period shorter
than a task kills it on every rollout, and a queued timeout shorter than a backlog reaps
tasks that were only waiting (and their workload token, which lives as long, expires).

- SQS visibility timeout = L + MARGIN: a running task's message stays hidden until it ends.
- Worker termination grace period = L + MARGIN: a stopping worker finishes what it runs.
- [scheduler] task_queued_timeout = visibility + L, and never below Airflow's 600 s: a task
  whose worker died before starting it waits one visibility timeout for its message to come
  back, then up to one longest task for a free worker.
- [scheduler] task_instance_heartbeat_timeout = L, within 120..300 s: a task whose worker
  died is retried once it has been silent that long; never under a database failover (RDS
  Multi-AZ takes 60-120 s, and tasks cannot heartbeat meanwhile), never above Airflow's 300 s.

An explicit visibility timeout or grace period wins, but must be at least L (a CEL rule).
"""

from __future__ import annotations

from dataclasses import dataclass

MARGIN_SECONDS = 60  # Celery's own work around a task: taking it, starting it, acknowledging
AIRFLOW_QUEUED_TIMEOUT = 600  # Airflow's default [scheduler] task_queued_timeout
FAILOVER_SECONDS = 120
AIRFLOW_HEARTBEAT_TIMEOUT = 300  # Airflow's default [scheduler] task_instance_heartbeat_timeout


@dataclass(frozen=True)
class TaskTimeouts:
    """Every timeout of a task's life, in seconds."""

    visibility: int
    grace: int
    queued: int
    heartbeat: int


def task_timeouts(
    longest_task: int, visibility: int | None = None, grace: int | None = None
) -> TaskTimeouts:
    """The timeouts for tasks that run at most ``longest_task`` seconds; explicit
    ``visibility`` and ``grace`` win."""
    visible = visibility or longest_task + MARGIN_SECONDS
    return TaskTimeouts(
        visibility=visible,
        grace=grace or longest_task + MARGIN_SECONDS,
        queued=max(AIRFLOW_QUEUED_TIMEOUT, visible + longest_task),
        heartbeat=min(max(longest_task, FAILOVER_SECONDS), AIRFLOW_HEARTBEAT_TIMEOUT),
    )
