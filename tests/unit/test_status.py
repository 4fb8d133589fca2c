"""Status: conditions, Ready, phase, and no change when nothing changed."""

from __future__ import annotations

import pytest

from farflow.kube.status import PARTS, Report, changed

pytestmark = pytest.mark.unit
EARLIER, LATER = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"


def all_true(report: Report) -> Report:
    for part in PARTS:
        report.set(part, True, "Fine")
    return report


def condition(status: dict, kind: str) -> dict:  # type: ignore[type-arg]
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_ready_when_every_part_is() -> None:
    status = all_true(Report(previous={}, generation=3)).render(EARLIER)
    assert status["phase"] == "Running"
    assert condition(status, "Ready")["status"] == "True"
    assert status["observedGeneration"] == 3


def test_unchanged_status_renders_identically() -> None:
    first = all_true(Report(previous={}, generation=1)).render(EARLIER)
    second = all_true(Report(previous=first, generation=1)).render(LATER)
    assert second == first
    assert not changed(first, second)


def test_transition_time_moves_only_with_the_status() -> None:
    first = all_true(Report(previous={}, generation=1)).render(EARLIER)
    report = all_true(Report(previous=first, generation=1))
    report.set("WorkersAvailable", False, "Unavailable", "not available yet: worker")
    second = report.render(LATER)
    assert condition(second, "WorkersAvailable")["lastTransitionTime"] == LATER
    assert condition(second, "ApiServerAvailable")["lastTransitionTime"] == EARLIER
    assert condition(second, "Ready")["message"] == "waiting for WorkersAvailable"
    assert second["phase"] == "Degraded"


def test_phases() -> None:
    fresh = Report(previous={}, generation=1)
    assert fresh.render(EARLIER)["phase"] == "Provisioning"
    migrating = Report(previous={}, generation=1)
    migrating.set("MigrationComplete", False, "Migrating")
    assert migrating.render(EARLIER)["phase"] == "Migrating"
    failed = Report(previous={}, generation=1)
    failed.fail("MigrationComplete", "BackoffLimitExceeded", "Job has reached the backoff limit")
    assert failed.render(EARLIER)["phase"] == "Failed"
    suspended = all_true(Report(previous={}, generation=1))
    suspended.suspended = True
    assert suspended.render(EARLIER)["phase"] != "Suspended"  # still scaling down
    suspended.settled = True
    assert suspended.render(EARLIER)["phase"] == "Suspended"
    assert condition(suspended.render(EARLIER), "Ready")["reason"] == "Suspended"


def test_invalid_spec_fails_with_its_reason() -> None:
    report = Report(previous={}, generation=1)
    report.invalid = "spec.x: bad"
    status = report.render(EARLIER)
    assert status["phase"] == "Failed"
    assert condition(status, "Ready")["reason"] == "InvalidSpec"
    assert condition(status, "Ready")["message"] == "spec.x: bad"
