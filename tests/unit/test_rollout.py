"""The rollout decision: from an observed migration Job and Deployments, what to apply next,
which conditions hold and when to look again. Pure: no client, no server."""

from __future__ import annotations

import copy
import datetime
from dataclasses import replace
from typing import Any

import pytest

from farflow.api.status import PoolStatus, WorkersStatus
from farflow.kube.observe import JobState
from farflow.objects import Manifest
from farflow.plan import Plan
from farflow.rollout import PROGRESS_RETRY, Decision, Observed, decide, scaled
from farflow.scaler import with_last_look
from tests.unit.planning import built, planned

pytestmark = pytest.mark.unit
STAGES = {"api-server": 1, "scheduler": 2, "dag-processor": 2, "triggerer": 2, "worker": 3}


def wanted(patch: dict[str, Any] | None = None) -> tuple[Plan, dict[str, Manifest]]:
    made = planned(patch)
    by_name = {m["metadata"]["name"]: m for m in built(patch) if m["kind"] == "Deployment"}
    return made, {c.name: by_name[made.names.of(c.name)] for c in made.components}


def live(manifest: Manifest, *, ready: int | None = None, current: bool = True) -> Manifest:
    """The Deployment as the API server reports it once its controller has (or, with
    current=False, has not yet) rolled the template out, with ``ready`` pods ready."""
    replicas = manifest["spec"]["replicas"]
    found = copy.deepcopy(manifest)
    found["metadata"]["generation"] = 2
    found["status"] = {
        "observedGeneration": 2 if current else 1,
        "replicas": replicas,
        "updatedReplicas": replicas if current else 0,
        "readyReplicas": replicas if ready is None else ready,
    }
    return found


NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def observed(
    deployments: dict[str, Manifest | None],
    job: JobState | None = None,
    *,
    now: datetime.datetime = NOW,
    attempts: int = 1,
) -> Observed:
    return Observed("minimal-migrate-0", job or JobState("Complete"), deployments, now, attempts)


def conditions(decision: Decision) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in decision.conditions}


def test_nothing_rolls_while_the_migration_runs() -> None:
    made, deployments = wanted()
    decision = decide(made, deployments, observed(dict.fromkeys(deployments), JobState("Running")))
    assert decision.apply == ()
    assert decision.delay == PROGRESS_RETRY
    assert not decision.failed
    assert conditions(decision)["MigrationComplete"] == ("False", "Migrating")
    assert conditions(decision)["ApiServerAvailable"] == ("False", "Unavailable")


def test_a_failed_migration_fails_the_rollout_and_runs_again_later() -> None:
    made, deployments = wanted()
    job = JobState(
        "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit", NOW
    )
    decision = decide(made, deployments, observed(dict.fromkeys(deployments), job))
    assert decision.apply == ()
    assert decision.failed
    assert not decision.rerun_migration
    assert decision.delay == 30.0  # the first rerun, 30 s after the failure
    status, reason = conditions(decision)["MigrationComplete"]
    assert (status, reason) == ("False", "BackoffLimitExceeded")
    message = next(c.message for c in decision.conditions if c.type == "MigrationComplete")
    assert "backoff limit" in message
    assert "again at 2026-12-01T12:00:30Z (run 2)" in message
    assert "delete the Job to retry" in message


@pytest.mark.parametrize(
    ("attempts", "backoff"), [(1, 30), (2, 60), (3, 120), (7, 1800), (20, 1800)]
)
def test_a_failed_migration_reruns_after_a_capped_doubling_backoff(
    attempts: int, backoff: int
) -> None:
    made, deployments = wanted()
    job = JobState("Failed", "BackoffLimitExceeded", "", NOW)
    early = NOW + datetime.timedelta(seconds=backoff - 1)
    waiting = decide(
        made, deployments, observed(dict.fromkeys(deployments), job, now=early, attempts=attempts)
    )
    assert not waiting.rerun_migration
    due = NOW + datetime.timedelta(seconds=backoff)
    rerun = decide(
        made, deployments, observed(dict.fromkeys(deployments), job, now=due, attempts=attempts)
    )
    assert rerun.rerun_migration
    assert rerun.apply == ()


def test_after_the_migration_the_api_server_rolls_first() -> None:
    made, deployments = wanted()
    decision = decide(made, deployments, observed(dict.fromkeys(deployments)))
    assert decision.apply == ("api-server",)
    assert decision.delay == PROGRESS_RETRY
    assert conditions(decision)["MigrationComplete"] == ("True", "Migrated")


def test_a_stage_waits_for_the_one_before_to_roll_out() -> None:
    made, deployments = wanted()
    rolling = live(deployments["api-server"], current=False)
    decision = decide(made, deployments, observed({"api-server": rolling}))
    assert decision.apply == ()
    assert decision.delay == PROGRESS_RETRY
    assert conditions(decision)["ApiServerAvailable"] == ("False", "Unavailable")


def test_stages_follow_in_order_each_as_one_step() -> None:
    made, deployments = wanted()
    found: dict[str, Manifest | None] = {"api-server": live(deployments["api-server"])}
    decision = decide(made, deployments, observed(found))
    assert set(decision.apply) == {"scheduler", "dag-processor", "triggerer"}
    found |= {name: live(deployments[name]) for name in decision.apply}
    assert decide(made, deployments, observed(found)).apply == ("worker",)


def test_a_rolled_out_cluster_is_settled_and_available() -> None:
    made, deployments = wanted()
    found = {name: live(manifest) for name, manifest in deployments.items()}
    decision = decide(made, deployments, observed(dict(found)))
    assert decision.apply == ()
    assert decision.delay is None
    assert set(conditions(decision).values()) == {
        ("True", "Migrated"),
        ("True", "Available"),
    }
    assert decision.workers is not None
    assert (decision.workers.desired, decision.workers.ready) == (1, 1)


def test_a_changed_component_is_applied_and_counts_as_rolling() -> None:
    made, deployments = wanted()
    found: dict[str, Manifest | None] = {n: live(m) for n, m in deployments.items()}
    edited = live(deployments["scheduler"])
    edited["spec"]["template"]["metadata"]["annotations"]["farflow.io/config-hash"] = "old"
    found["scheduler"] = edited
    decision = decide(made, deployments, observed(found))
    assert decision.apply == ("scheduler",)
    assert conditions(decision)["SchedulerAvailable"] == ("False", "Unavailable")
    assert conditions(decision)["ApiServerAvailable"] == ("True", "Available")


def test_a_missing_component_is_created_in_its_stage() -> None:
    made, deployments = wanted()
    found: dict[str, Manifest | None] = {n: live(m) for n, m in deployments.items()}
    found["triggerer"] = None  # deleted by hand
    decision = decide(made, deployments, observed(found))
    assert decision.apply == ("triggerer",)
    message = next(c.message for c in decision.conditions if c.type == "SchedulerAvailable")
    assert message == "not available yet: triggerer"


def test_pods_not_ready_leave_a_rolled_out_component_unavailable() -> None:
    made, deployments = wanted()
    found: dict[str, Manifest | None] = {n: live(m) for n, m in deployments.items()}
    found["worker"] = live(deployments["worker"], ready=0)
    decision = decide(made, deployments, observed(found))
    assert decision.apply == ()
    assert decision.delay is None
    assert conditions(decision)["WorkersAvailable"] == ("False", "Unavailable")
    assert decision.workers is not None
    assert (decision.workers.desired, decision.workers.ready) == (1, 0)


def test_pods_that_fail_to_start_are_named_with_why() -> None:
    made, deployments = wanted()
    found: dict[str, Manifest | None] = {n: live(m) for n, m in deployments.items()}
    found["api-server"] = live(deployments["api-server"], current=False)
    why = "pod minimal-api-server-x: bootstrap exited 1: the requirements cannot be installed"
    decision = decide(
        made, deployments, replace(observed(found), start_failures={"api-server": why})
    )
    assert conditions(decision)["ApiServerAvailable"] == ("False", "PodsFailToStart")
    [api] = [c for c in decision.conditions if c.type == "ApiServerAvailable"]
    assert api.message == f"not available yet: api-server: {why}"
    assert decision.apply == ()  # the next stage waits


def test_suspending_scales_every_stage_to_zero_in_order() -> None:
    made, deployments = wanted({"spec": {"suspend": True}})
    assert {c.replicas for c in made.components} == {0}
    _, running = wanted()
    found: dict[str, Manifest | None] = {n: live(m) for n, m in running.items()}
    decision = decide(made, deployments, observed(found))
    assert decision.apply == ("api-server",)
    found = {n: live(m) for n, m in deployments.items()}
    decision = decide(made, deployments, observed(found))
    assert decision.apply == ()
    assert decision.delay is None
    assert decision.workers is not None
    assert decision.workers.desired == 0


def test_every_component_has_a_stage() -> None:
    made, _ = wanted()
    assert {c.name: c.rollout_stage for c in made.components} == STAGES


def test_the_airflow_version_is_what_every_component_rolled_out() -> None:
    made, deployments = wanted()
    found: dict[str, Manifest | None] = {n: live(m) for n, m in deployments.items()}
    assert decide(made, deployments, observed(dict(found))).airflow_version == "3.3.2"
    found["worker"] = live(deployments["worker"], current=False)  # still rolling
    assert decide(made, deployments, observed(found)).airflow_version is None


def test_a_new_template_keeps_the_replicas_the_autoscaler_set() -> None:
    made, deployments = wanted()
    worker = live(deployments["worker"], ready=1)
    worker["spec"]["replicas"] = 3
    found: dict[str, Manifest | None] = {n: live(m) for n, m in deployments.items()}
    found["worker"] = worker
    adjusted = scaled(made, deployments, observed(found))
    assert adjusted["worker"]["spec"]["replicas"] == 3
    assert adjusted["api-server"] == deployments["api-server"]  # FarFlow's to size
    workers = decide(made, adjusted, observed(found)).workers
    assert workers is not None
    assert (workers.desired, workers.ready_of_desired) == (3, "1/3")
    looked = WorkersStatus(desired=2, waiting=6, running=0, reason="6 waiting need 3")
    shown = with_last_look(workers, looked)
    assert (shown.desired, shown.waiting, shown.reason) == (3, 6, "6 waiting need 3")


def test_a_suspended_cluster_sets_the_workers_to_zero_itself() -> None:
    made, deployments = wanted({"spec": {"suspend": True}})
    worker = live(deployments["worker"])
    worker["spec"]["replicas"] = 3
    found: dict[str, Manifest | None] = {n: live(m) for n, m in deployments.items()}
    found["worker"] = worker
    assert scaled(made, deployments, observed(found))["worker"]["spec"]["replicas"] == 0


def test_a_resumed_cluster_starts_its_workers_again() -> None:
    made, deployments = wanted({"spec": {"workers": {"minReplicas": 2}}})
    found: dict[str, Manifest | None] = {n: live(m) for n, m in deployments.items()}
    suspended = live(deployments["worker"])
    suspended["spec"]["replicas"] = 0
    found["worker"] = suspended
    decision = decide(made, scaled(made, deployments, observed(found)), observed(found))
    assert decision.apply == ("worker",)


def test_each_worker_pool_reports_under_its_name_and_in_workers_available() -> None:
    pool = {"name": "large", "queues": ["large"], "minReplicas": 2}
    made, deployments = wanted({"spec": {"workers": {"pools": [pool]}}})
    found: dict[str, Manifest | None] = {n: live(m) for n, m in deployments.items()}
    found["worker-large"] = live(deployments["worker-large"], ready=1)
    decision = decide(made, deployments, observed(found))
    assert decision.apply == ()
    assert conditions(decision)["WorkersAvailable"] == ("False", "Unavailable")
    assert decision.workers is not None
    assert decision.workers.ready_of_desired == "1/1"  # the default pool
    assert decision.workers.pools["large"].ready_of_desired == "1/2"
    looked = WorkersStatus(
        reason="idle", pools={"large": PoolStatus(waiting=3, running=1, reason="4 need 2")}
    )
    shown = with_last_look(decision.workers, looked)
    assert (shown.reason, shown.pools["large"].reason) == ("idle", "4 need 2")
    assert (shown.pools["large"].waiting, shown.pools["large"].desired) == (3, 2)
