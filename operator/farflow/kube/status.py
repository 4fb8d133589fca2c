"""The AirflowCluster status: conditions gathered during a reconcile, then phase and Ready.

Pure: a transition time changes only when a condition's status does, so an unchanged cluster
renders the very same status and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import ValidationError

from farflow.api.status import (
    AirflowClusterStatus,
    AirflowObjectsStatus,
    AwsStatus,
    Condition,
    ConditionType,
    MigrationStatus,
    Phase,
    WorkersStatus,
)

# Every condition Ready depends on, in the order a reconcile settles them; Reconciled says
# whether the last pass got through, which a passing fault does not make the cluster less.
SUMMARY: tuple[ConditionType, ...] = ("Ready", "Reconciled", "Deleting")
# Shown where they apply (an RDS instance FarFlow made, pools, variables or connections
# declared), without holding Ready.
ADVISORY: tuple[ConditionType, ...] = ("DatabaseUpToDate", "AirflowObjectsSynced")
PARTS: tuple[ConditionType, ...] = tuple(
    c for c in get_args(ConditionType) if c not in (*SUMMARY, *ADVISORY)
)
NOT_CHECKED = ("Unknown", "Pending", "not checked yet")


def previous_status(status: dict[str, Any] | None) -> AirflowClusterStatus:
    """The status as last written; one this version cannot read counts as none."""
    try:
        return AirflowClusterStatus.model_validate(status or {})
    except ValidationError:
        return AirflowClusterStatus()


@dataclass
class Report:
    """What one reconcile learned; unset conditions stay Unknown."""

    previous: AirflowClusterStatus
    generation: int
    conditions: dict[ConditionType, Condition] = field(default_factory=dict)
    failed: bool = False
    invalid: str | None = None  # why the spec cannot work, if it cannot
    deleting: bool = False  # the cluster is being deleted
    suspended: bool = False
    settled: bool = False  # the reconcile reached the end: nothing is still rolling
    api_server_url: str | None = None
    airflow_version: str | None = None
    workers: WorkersStatus | None = None
    aws: AwsStatus | None = None  # identifiers of the AWS resources
    migration: MigrationStatus | None = None
    airflow_objects: AirflowObjectsStatus | None = None  # what FarFlow created in Airflow

    def record(self, conditions: Iterable[Condition]) -> None:
        self.conditions.update((condition.type, condition) for condition in conditions)

    def set(self, kind: ConditionType, ok: bool, reason: str, message: str = "") -> None:
        self.record([Condition.of(kind, ok, reason, message)])

    def fail(self, kind: ConditionType, reason: str, message: str) -> None:
        """A problem only a change of spec (or of the world) fixes."""
        self.set(kind, False, reason, message)
        self.failed = True

    def ready(self) -> bool:
        return not self.suspended and all(self._holds(part) for part in PARTS)

    def _holds(self, kind: ConditionType) -> bool:
        """Whether ``kind`` holds for this generation: one carried over from an earlier
        generation keeps Ready False until a pass has looked at it again."""
        condition = self.conditions.get(kind)
        current = condition is not None and condition.observed_generation in (None, self.generation)
        return current and condition is not None and condition.holds

    def render(self, now: str) -> AirflowClusterStatus:
        """The whole status to write, reusing transition times of unchanged conditions;
        what this pass did not look at (a condition, the workers, the AWS side) keeps the
        value it had."""
        self.conditions = {**self._earlier(), **self.conditions}
        summary = SUMMARY if self.deleting else ("Ready", "Reconciled")
        advisory = [kind for kind in ADVISORY if kind in self.conditions]
        conditions = [self._condition(kind, now) for kind in (*PARTS, *advisory, *summary)]
        return AirflowClusterStatus(
            phase=self._phase(),
            observed_generation=self.generation,
            conditions=conditions,
            api_server_url=self.api_server_url or self.previous.api_server_url,
            airflow_version=self.airflow_version or self.previous.airflow_version,
            workers=self.workers or self.previous.workers,
            aws=self.aws or self.previous.aws,
            migration=self.migration or self.previous.migration,
            airflow_objects=self.airflow_objects or self.previous.airflow_objects,
        )

    def _ready_condition(self) -> Condition:
        if self.deleting:
            return Condition.of("Ready", False, "Deleting", "the cluster is being deleted")
        if self.invalid:
            return Condition.of("Ready", False, "InvalidSpec", self.invalid)
        if self.suspended:
            message = "spec.suspend is true: every component runs 0 pods"
            return Condition.of("Ready", False, "Suspended", message)
        waiting = [part for part in PARTS if not self._holds(part)]
        if not waiting:
            return Condition.of("Ready", True, "AllComponentsAvailable", "Airflow is serving")
        return Condition.of("Ready", False, "Waiting", "waiting for " + ", ".join(waiting))

    def _earlier(self) -> dict[ConditionType, Condition]:
        """The last written conditions, as this pass would have set them."""
        return {c.type: c for c in self.previous.conditions if c.type in (*PARTS, *ADVISORY)}

    def _condition(self, kind: ConditionType, now: str) -> Condition:
        state, reason, message = NOT_CHECKED
        unknown = Condition(type=kind, status=state, reason=reason, message=message)
        current = self._ready_condition() if kind == "Ready" else self.conditions.get(kind, unknown)
        before = next((c for c in self.previous.conditions if c.type == kind), None)
        if current is before:  # carried over as it was
            return before
        unchanged = before is not None and before.status == current.status
        since = before.last_transition_time if before is not None and unchanged else None
        return current.model_copy(
            update={"last_transition_time": since or now, "observed_generation": self.generation}
        )

    def _phase(self) -> Phase:
        """The first phase whose state holds, in this order."""
        migration = self.conditions.get("MigrationComplete")
        phases: tuple[tuple[Phase, bool], ...] = (
            ("Deleting", self.deleting),
            ("Failed", self.failed or bool(self.invalid)),
            ("Suspended", self.suspended and self.settled),
            ("Running", self.ready()),
            ("Migrating", migration is not None and not migration.holds),
            ("Degraded", self.previous.phase in ("Running", "Degraded")),
        )
        return next((phase for phase, holds in phases if holds), "Provisioning")


def wire(status: AirflowClusterStatus) -> dict[str, Any]:
    """The status as the API server stores it."""
    return status.model_dump(by_alias=True, exclude_none=True, mode="json")


def changed(previous: dict[str, Any], rendered: dict[str, Any]) -> bool:
    """Whether writing ``rendered`` (the whole status) would change anything."""
    return previous != rendered
