"""The rollout as a pure decision: from what was observed of the migration Job and each
Deployment, which Deployments to apply now, which conditions hold, and when to look again.

A rollout waits for the migration, then goes stage by stage (API server, scheduling,
workers): a stage is applied only once the one before it runs its current template on every
replica. A failed migration runs again after a backoff that doubles up to half an hour.
Observing and applying happen around `decide`, in `farflow.reconcile`.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from farflow.api.names import WORKER, named_pool
from farflow.api.status import Condition, ConditionType, PoolStatus, WorkersStatus
from farflow.kube.apply import contains
from farflow.kube.observe import DeploymentState, JobState, deployment_state
from farflow.objects import Manifest
from farflow.plan.model import Component, Plan

PROGRESS_RETRY = 5.0  # seconds between looks while a migration or a stage is under way
MIGRATION_BACKOFF, MIGRATION_BACKOFF_CAP = 30.0, 1800.0  # before a failed migration's rerun
# Which condition reports the Deployments of which component.
AVAILABILITY: dict[ConditionType, Callable[[Component], bool]] = {
    "ApiServerAvailable": lambda component: component.name == "api-server",
    "SchedulerAvailable": lambda component: (
        component.name in ("scheduler", "dag-processor", "triggerer")
    ),
    "WorkersAvailable": lambda component: component.is_worker,
}


@dataclass(frozen=True)
class Observed:
    """The migration Job and each component's live Deployment (None when missing), when."""

    job_name: str
    job: JobState
    deployments: Mapping[str, Manifest | None]  # by component name
    now: datetime.datetime
    attempts: int = 1  # runs of this migration Job so far
    # Why the pods of a component that is not available do not start, by component name.
    start_failures: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """What to do about an observed rollout."""

    apply: tuple[str, ...]  # components whose Deployment to apply now
    conditions: tuple[Condition, ...]
    workers: WorkersStatus | None  # None without a worker component
    airflow_version: str | None  # what every component runs, once they all run one
    failed: bool = False  # only a change of spec (or of the world) can help
    delay: float | None = None  # seconds until looking again; None once settled
    rerun_migration: bool = False  # delete the failed migration Job: it runs again


def scaled(plan: Plan, wanted: Mapping[str, Manifest], observed: Observed) -> dict[str, Manifest]:
    """``wanted`` with the live replicas of the components another owner scales (the
    autoscaler, a user's HPA), so that applying a new template never resizes them; at zero
    (a resumed cluster) they start again at the planned count."""
    adjusted = dict(wanted)
    for component in plan.components:
        live = observed.deployments.get(component.name)
        count = live["spec"].get("replicas", 1) if live is not None else 0
        if component.scaled_elsewhere and count:
            manifest = copy.deepcopy(wanted[component.name])
            manifest["spec"]["replicas"] = count
            adjusted[component.name] = manifest
    return adjusted


def decide(plan: Plan, wanted: Mapping[str, Manifest], observed: Observed) -> Decision:
    """The next step of the rollout of ``plan``, whose Deployments are ``wanted`` (by
    component name), given what was ``observed``."""
    failed = observed.job.phase == "Failed"
    rerun_at = _rerun_at(observed)
    rerun_in = max(0.0, (rerun_at - observed.now).total_seconds()) if failed else 0.0
    migration = _migration(observed, rerun_at)
    apply: tuple[str, ...] = ()
    if migration.holds:
        apply, delay = _next_stage(plan, wanted, observed)
    else:
        delay = (rerun_in or PROGRESS_RETRY) if failed else PROGRESS_RETRY
    states = _states(plan, wanted, observed, apply)
    return Decision(
        apply=apply,
        conditions=(migration, *_availability(plan, states, observed.start_failures)),
        workers=_workers(plan, states),
        airflow_version=_running_version(states),
        failed=failed,
        delay=delay,
        rerun_migration=failed and rerun_in == 0,
    )


def _rerun_at(observed: Observed) -> datetime.datetime:
    """When a failed migration runs again: 30 s after it failed, doubling per run up to
    30 minutes."""
    backoff = min(MIGRATION_BACKOFF * 2 ** (observed.attempts - 1), MIGRATION_BACKOFF_CAP)
    failed_at = observed.job.failed_at or observed.now
    return failed_at + datetime.timedelta(seconds=backoff)


def _migration(observed: Observed, rerun_at: datetime.datetime) -> Condition:
    name, job = observed.job_name, observed.job
    if job.phase == "Complete":
        return Condition.of("MigrationComplete", True, "Migrated", f"Job {name} completed")
    if job.phase == "Failed":
        message = (
            f"Job {name} failed: {job.message}; FarFlow runs it again at "
            f"{rerun_at:%Y-%m-%dT%H:%M:%SZ} (run {observed.attempts + 1}), or fix the cause and "
            "delete the Job to retry now"
        )
        return Condition.of("MigrationComplete", False, job.reason or "MigrationFailed", message)
    message = f"Job {name} runs airflow db migrate"
    return Condition.of("MigrationComplete", False, "Migrating", message)


def _next_stage(
    plan: Plan, wanted: Mapping[str, Manifest], observed: Observed
) -> tuple[tuple[str, ...], float | None]:
    """The first stage not yet rolled out: its Deployments that differ from the wanted ones
    (to apply), and a delay; nothing and None once every stage is out."""
    for stage in sorted({c.rollout_stage for c in plan.components}):
        staged = [c.name for c in plan.components if c.rollout_stage == stage]
        stale = tuple(name for name in staged if not _current(wanted[name], observed, name))
        if stale:
            return stale, PROGRESS_RETRY
        if not all(_state(observed, name).rolled_out for name in staged):
            return (), PROGRESS_RETRY
    return (), None


def _current(manifest: Manifest, observed: Observed, name: str) -> bool:
    live = observed.deployments.get(name)
    return live is not None and contains(live, manifest)


def _state(observed: Observed, name: str) -> DeploymentState:
    live = observed.deployments.get(name)
    if live is None:
        return DeploymentState(desired=0, ready=0, rolled_out=False)
    return deployment_state(live)


def _states(
    plan: Plan, wanted: Mapping[str, Manifest], observed: Observed, applying: tuple[str, ...]
) -> dict[str, DeploymentState]:
    """Each component's state; one being applied now is rolling towards its wanted size."""
    states: dict[str, DeploymentState] = {}
    for component in plan.components:
        state = _state(observed, component.name)
        if component.name in applying:
            desired = wanted[component.name]["spec"]["replicas"]
            state = DeploymentState(desired=desired, ready=state.ready, rolled_out=False)
        states[component.name] = state
    return states


def _availability(
    plan: Plan, states: Mapping[str, DeploymentState], failures: Mapping[str, str]
) -> list[Condition]:
    conditions = []
    for kind, reports in AVAILABILITY.items():
        planned = [c for c in plan.components if reports(c)]
        conditions.append(_available(kind, planned, states, failures))
    return conditions


def _available(
    kind: ConditionType,
    components: list[Component],
    states: Mapping[str, DeploymentState],
    failures: Mapping[str, str],
) -> Condition:
    """Available once every replica of each component is ready; else which are not, and why
    the pods of those that cannot start do not (the rollout waits for a fix there)."""
    waiting = sorted(c.name for c in components if not states[c.name].available)
    failing = [name for name in waiting if name in failures]
    if failing:
        why = "; ".join(f"{name}: {failures[name]}" for name in failing)
        return Condition.of(kind, False, "PodsFailToStart", "not available yet: " + why)
    if waiting:
        return Condition.of(kind, False, "Unavailable", "not available yet: " + ", ".join(waiting))
    return Condition.of(kind, True, "Available", "all replicas ready")


def _running_version(states: Mapping[str, DeploymentState]) -> str | None:
    """The Airflow version every component has rolled out, or None amid a rollout."""
    versions = {state.version for state in states.values()}
    rolled_out = all(state.rolled_out for state in states.values())
    return versions.pop() if rolled_out and len(versions) == 1 else None


def _workers(plan: Plan, states: Mapping[str, DeploymentState]) -> WorkersStatus | None:
    """The default pool's workers, and each named pool's (worker-<name>) under its name."""
    if WORKER not in states:
        return None
    pools = {pool: _pool(states[c.name]) for c in plan.components if (pool := named_pool(c.name))}
    return WorkersStatus(**_pool(states[WORKER]).model_dump(), pools=pools)


def _pool(state: DeploymentState) -> PoolStatus:
    ready_of_desired = f"{state.ready}/{state.desired}"
    return PoolStatus(desired=state.desired, ready=state.ready, ready_of_desired=ready_of_desired)
