"""The worker autoscaler's decision, pure: from the Celery demand measured over time to the
replicas the workers should run, and why.

Demand is what the SQS queues hold (waiting) plus what is in flight (running, or reserved
by a worker): with `task_acks_late` a task's message stays in flight until the task ends.
Up at once; down only once every look of the last `scaleDownDelaySeconds` needed fewer
workers, and then only to the most any of those looks needed, so a steady load never moves
the replicas and a dip shorter than the delay never removes a worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

AUTOSCALE_SECONDS = 5.0  # between the autoscaler's looks at a cluster's queues, by default


@dataclass(frozen=True)
class Policy:
    min_replicas: int
    max_replicas: int
    tasks_per_worker: int
    scale_down_delay: float  # seconds


@dataclass(frozen=True)
class Demand:
    """One look at the queues."""

    at: float  # seconds, monotonic
    waiting: int
    running: int  # in flight: running, or reserved by a worker

    @property
    def tasks(self) -> int:
        return self.waiting + self.running


@dataclass(frozen=True)
class History:
    """The looks within the scale-down delay (and the last one before it, which tells the
    demand at its start), and since when the autoscaler has looked."""

    since: float
    looks: tuple[Demand, ...] = ()

    def add(self, look: Demand, delay: float) -> History:
        looks = (*self.looks, look)
        inside = [index for index, old in enumerate(looks) if old.at >= look.at - delay]
        return History(self.since, looks[max(inside[0] - 1, 0) :])


@dataclass(frozen=True)
class Decision:
    replicas: int
    reason: str


def needed(tasks: int, policy: Policy) -> int:
    """The workers ``tasks`` need, within the policy's bounds."""
    wanted = math.ceil(tasks / policy.tasks_per_worker)
    return min(max(wanted, policy.min_replicas), policy.max_replicas)


def decide(policy: Policy, current: int, history: History) -> Decision:
    """The replicas for ``current`` workers, given the looks of ``history`` (the last is now)."""
    now = history.looks[-1]
    wanted = needed(now.tasks, policy)
    load = f"{now.waiting} waiting and {now.running} running"
    if wanted > current:
        return Decision(wanted, f"{load} need {wanted} (up to {policy.tasks_per_worker} each)")
    current = min(current, policy.max_replicas)
    if wanted == current:
        return Decision(current, f"{load}: {current} is enough")
    if history.since > now.at - policy.scale_down_delay:
        return Decision(current, f"{load}: waiting out the scale-down delay before going down")
    held = max(needed(look.tasks, policy) for look in history.looks)
    if held >= current:
        return Decision(current, f"{load}: demand was higher within the scale-down delay")
    return Decision(held, f"{load}: fewer needed for {policy.scale_down_delay:.0f} s")
