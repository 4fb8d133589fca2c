"""The autoscaler's decision, by its properties over generated policies and demand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farflow.autoscale import Decision, Demand, History, Policy, decide, needed

pytestmark = pytest.mark.unit


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    low = draw(st.integers(0, 10))
    return Policy(
        min_replicas=low,
        max_replicas=draw(st.integers(max(low, 1), 20)),
        tasks_per_worker=draw(st.integers(1, 16)),
        scale_down_delay=draw(st.sampled_from([0.0, 5.0, 60.0, 300.0])),
    )


tasks = st.integers(0, 400)
replicas = st.integers(0, 25)


@st.composite
def histories(draw: st.DrawFn) -> History:
    """Looks every 0-60 s, the last at the end; the autoscaler may have started at any time."""
    demands = draw(st.lists(st.tuples(tasks, tasks), min_size=1, max_size=30))
    gaps = draw(st.lists(st.floats(0, 60), min_size=len(demands), max_size=len(demands)))
    at, history = 0.0, History(since=-draw(st.floats(0, 600)))
    for (waiting, running), gap in zip(demands, gaps, strict=True):
        at += gap
        history = history.add(Demand(at, waiting, running), 300.0)
    return history


def look(
    history: History, waiting: int, running: int, policy: Policy, later: float = 5.0
) -> History:
    return history.add(
        Demand(history.looks[-1].at + later, waiting, running), policy.scale_down_delay
    )


@given(policies(), replicas, histories())
def test_never_outside_min_and_max(policy: Policy, current: int, history: History) -> None:
    decision = decide(policy, current, history)
    assert policy.min_replicas <= decision.replicas <= policy.max_replicas


@given(policies(), replicas, histories(), tasks, tasks)
def test_more_demand_never_means_fewer_workers(
    policy: Policy, current: int, history: History, lower: int, extra: int
) -> None:
    low = decide(policy, current, look(history, lower, 0, policy))
    high = decide(policy, current, look(history, lower + extra, 0, policy))
    assert high.replicas >= low.replicas


@given(policies(), tasks, st.integers(1, 50))
def test_a_steady_load_never_changes_the_replicas(policy: Policy, load: int, looks: int) -> None:
    current = needed(load, policy)
    history = History(since=0.0, looks=(Demand(0.0, load, 0),))
    for _ in range(looks):
        history = look(history, 0, load, policy, later=30.0)  # started, then running
        assert decide(policy, current, history).replicas == current


@given(policies(), replicas, histories())
def test_down_only_once_the_delay_needed_fewer(
    policy: Policy, current: int, history: History
) -> None:
    decision = decide(policy, min(current, policy.max_replicas), history)
    if decision.replicas < min(current, policy.max_replicas):
        now = history.looks[-1].at
        assert history.since <= now - policy.scale_down_delay
        window = [d for d in history.looks if d.at >= now - policy.scale_down_delay]
        assert all(needed(d.tasks, policy) <= decision.replicas for d in window)


@given(policies(), replicas, histories(), st.integers(1, 400))
def test_queued_work_gets_a_worker_at_once(
    policy: Policy, current: int, history: History, queued: int
) -> None:
    decision = decide(policy, current, look(history, queued, 0, policy))
    assert decision.replicas >= min(policy.max_replicas, -(-queued // policy.tasks_per_worker))
    assert decision.replicas >= 1


def test_scale_to_zero_after_the_delay_and_back_with_one_task() -> None:
    policy = Policy(min_replicas=0, max_replicas=4, tasks_per_worker=5, scale_down_delay=60.0)
    history = History(since=0.0, looks=(Demand(0.0, 0, 3),))
    assert decide(policy, 1, history) == Decision(1, "0 waiting and 3 running: 1 is enough")
    for at in (30.0, 61.0):
        history = history.add(Demand(at, 0, 0), policy.scale_down_delay)
    assert decide(policy, 1, history).replicas == 1  # the look at 0 s had 3 running
    history = history.add(Demand(125.0, 0, 0), policy.scale_down_delay)
    assert decide(policy, 1, history).replicas == 0
    history = history.add(Demand(130.0, 1, 0), policy.scale_down_delay)
    assert decide(policy, 0, history).replicas == 1


def test_a_lowered_maximum_applies_at_once() -> None:
    policy = Policy(min_replicas=1, max_replicas=2, tasks_per_worker=1, scale_down_delay=300.0)
    history = History(since=0.0, looks=(Demand(0.0, 10, 0),))
    assert decide(policy, 6, history).replicas == 2
