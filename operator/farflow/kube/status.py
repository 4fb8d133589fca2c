"""The AirflowCluster status: conditions gathered during a reconcile, then phase and Ready.

Pure: a transition time changes only when a condition's status does, so an unchanged cluster
renders the very same status and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from farflow.api.status import ConditionType, Phase

# Every condition Ready depends on, in the order a reconcile settles them.
PARTS: tuple[ConditionType, ...] = tuple(c for c in get_args(ConditionType) if c != "Ready")


@dataclass
class Report:
    """What one reconcile learned; unset conditions stay Unknown."""

    previous: dict[str, Any]
    generation: int
    conditions: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    failed: bool = False
    invalid: str | None = None  # why the spec cannot work, if it cannot
    suspended: bool = False
    settled: bool = False  # the reconcile reached the end: nothing is still rolling
    api_server_url: str | None = None
    airflow_version: str | None = None
    workers: dict[str, int] = field(default_factory=dict)
    aws: dict[str, Any] = field(default_factory=dict)  # identifiers of the AWS resources

    def set(self, kind: ConditionType, ok: bool, reason: str, message: str = "") -> None:
        self.conditions[kind] = ("True" if ok else "False", reason, message)

    def fail(self, kind: ConditionType, reason: str, message: str) -> None:
        """A problem only a change of spec (or of the world) fixes."""
        self.set(kind, False, reason, message)
        self.failed = True

    def ready(self) -> bool:
        return not self.suspended and all(self.conditions.get(p, ("",))[0] == "True" for p in PARTS)

    def render(self, now: str) -> dict[str, Any]:
        """The status to write, reusing transition times of unchanged conditions."""
        status: dict[str, Any] = {
            "phase": self._phase(),
            "observedGeneration": self.generation,
            "conditions": [self._condition(kind, now) for kind in (*PARTS, "Ready")],
            "workers": {"desired": 0, "ready": 0, **self.workers},
        }
        if self.api_server_url:
            status["apiServerUrl"] = self.api_server_url
        if self.airflow_version:
            status["airflowVersion"] = self.airflow_version
        aws = {key: value for key, value in self.aws.items() if value}
        if aws:
            status["aws"] = aws
        return status

    def _ready_condition(self) -> tuple[str, str, str]:
        if self.invalid:
            return ("False", "InvalidSpec", self.invalid)
        if self.suspended:
            return ("False", "Suspended", "spec.suspend is true: every component runs 0 pods")
        waiting = [p for p in PARTS if self.conditions.get(p, ("",))[0] != "True"]
        if not waiting:
            return ("True", "AllComponentsAvailable", "Airflow is serving")
        return ("False", "Waiting", "waiting for " + ", ".join(waiting))

    def _condition(self, kind: ConditionType, now: str) -> dict[str, Any]:
        unknown = ("Unknown", "Pending", "not checked yet")
        state, reason, message = (
            self._ready_condition() if kind == "Ready" else self.conditions.get(kind, unknown)
        )
        earlier: list[dict[str, Any]] = self.previous.get("conditions", [])
        before: dict[str, Any] = next((c for c in earlier if c.get("type") == kind), {})
        changed = before.get("status") != state
        return {
            "type": kind,
            "status": state,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now if changed else before.get("lastTransitionTime", now),
            "observedGeneration": self.generation,
        }

    def _phase(self) -> Phase:
        migration = self.conditions.get("MigrationComplete", ("",))
        if self.failed or self.invalid:
            return "Failed"
        if self.suspended and self.settled:
            return "Suspended"
        if self.ready():
            return "Running"
        if migration[0] == "False":
            return "Migrating"
        if self.previous.get("phase") in ("Running", "Degraded"):
            return "Degraded"
        return "Provisioning"


def changed(previous: dict[str, Any], rendered: dict[str, Any]) -> bool:
    """Whether writing ``rendered`` would change anything."""
    return any(previous.get(k) != v for k, v in rendered.items())
