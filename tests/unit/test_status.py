"""Status: conditions, Ready, phase, and no change when nothing changed."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from farflow.api.status import (
    AirflowObjectsStatus,
    AwsStatus,
    NamedState,
    PoolStatus,
    WorkersStatus,
)
from farflow.kube.status import PARTS, Report, changed, previous_status, wire
from tests.cases import ROOT

pytestmark = pytest.mark.unit
EARLIER, LATER = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
FORMATS = jsonschema.Draft7Validator.FORMAT_CHECKER


def new_report(previous: dict, generation: int) -> Report:  # type: ignore[type-arg]
    return Report(previous_status(previous), generation)


def rendered(made: Report, now: str) -> dict:  # type: ignore[type-arg]
    return wire(made.render(now))


def all_true(report: Report) -> Report:
    for part in PARTS:
        report.set(part, True, "Fine")
    return report


def condition(status: dict, kind: str) -> dict:  # type: ignore[type-arg]
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_ready_when_every_part_is() -> None:
    status = rendered(all_true(new_report({}, 3)), EARLIER)
    assert status["phase"] == "Running"
    assert condition(status, "Ready")["status"] == "True"
    assert status["observedGeneration"] == 3


def test_unchanged_status_renders_identically() -> None:
    first = rendered(all_true(new_report({}, 1)), EARLIER)
    second = rendered(all_true(new_report(first, 1)), LATER)
    assert second == first
    assert not changed(first, second)


def test_transition_time_moves_only_with_the_status() -> None:
    first = rendered(all_true(new_report({}, 1)), EARLIER)
    report = all_true(new_report(first, 1))
    report.set("WorkersAvailable", False, "Unavailable", "not available yet: worker")
    second = rendered(report, LATER)
    assert condition(second, "WorkersAvailable")["lastTransitionTime"] == LATER
    assert condition(second, "ApiServerAvailable")["lastTransitionTime"] == EARLIER
    assert condition(second, "Ready")["message"] == "waiting for WorkersAvailable"
    assert second["phase"] == "Degraded"


def test_phases() -> None:
    fresh = new_report({}, 1)
    assert rendered(fresh, EARLIER)["phase"] == "Provisioning"
    migrating = new_report({}, 1)
    migrating.set("MigrationComplete", False, "Migrating")
    assert rendered(migrating, EARLIER)["phase"] == "Migrating"
    failed = new_report({}, 1)
    failed.fail("MigrationComplete", "BackoffLimitExceeded", "Job has reached the backoff limit")
    assert rendered(failed, EARLIER)["phase"] == "Failed"
    suspended = all_true(new_report({}, 1))
    suspended.suspended = True
    assert rendered(suspended, EARLIER)["phase"] != "Suspended"  # still scaling down
    suspended.settled = True
    assert rendered(suspended, EARLIER)["phase"] == "Suspended"
    assert condition(rendered(suspended, EARLIER), "Ready")["reason"] == "Suspended"


def test_invalid_spec_fails_with_its_reason() -> None:
    report = new_report({}, 1)
    report.invalid = "spec.x: bad"
    status = rendered(report, EARLIER)
    assert status["phase"] == "Failed"
    assert condition(status, "Ready")["reason"] == "InvalidSpec"
    assert condition(status, "Ready")["message"] == "spec.x: bad"


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD's structural schema as a JSON schema that also rejects what the API server
    would prune: any property the schema does not declare."""
    out = {
        key: strict(value) if isinstance(value, dict) else value for key, value in schema.items()
    }
    if "properties" in schema:
        out["properties"] = {name: strict(child) for name, child in schema["properties"].items()}
        out.setdefault("additionalProperties", False)
    return out


def status_schema() -> dict[str, Any]:
    crd = yaml.safe_load((ROOT / "crds" / "airflowcluster.yaml").read_text())
    [version] = crd["spec"]["versions"]
    return strict(version["schema"]["openAPIV3Schema"]["properties"]["status"])


def every_kind_of_status() -> list[Report]:
    fresh = new_report({}, 1)
    running = all_true(new_report({}, 2))
    running.api_server_url, running.airflow_version = "http://x:8080", "3.3.2"
    running.workers = WorkersStatus(
        desired=2,
        ready=1,
        ready_of_desired="1/2",
        waiting=4,
        running=5,
        reason="9 tasks",
        pools={"large": PoolStatus(desired=1, ready_of_desired="0/1", waiting=1, reason="1 task")},
    )
    running.aws = AwsStatus(
        region="eu-west-1",
        queue_urls={"default": "https://sqs.eu-west-1.amazonaws.com/1/q"},
        log_group_arn="arn:aws:logs:eu-west-1:1:log-group:/farflow/ns/a",
        database=NamedState(instance="arn:aws:rds:eu-west-1:1:db:farflow-ns-a", status="available"),
        admin_secret="arn:aws:secretsmanager:eu-west-1:1:secret:airflow/ns/a/admin",
        dag_bucket="farflow-ns-a",
        fargate_profile=NamedState(name="farflow-ns-a-1234abcd", status="ACTIVE"),
        ecs_cluster="arn:aws:ecs:eu-west-1:1:cluster/farflow-ns-a",
    )
    running.airflow_objects = AirflowObjectsStatus(
        pools=["loads"], variables=["greeting"], connections=["warehouse"],
        written={"pools": "0123456789abcdef"},
    )  # fmt: skip
    running.set("AirflowObjectsSynced", True, "Synced", "1 pools, 1 variables, 1 connections")
    invalid = new_report({}, 3)
    invalid.invalid = "spec.x: bad"
    failed = new_report({}, 4)
    failed.fail("MigrationComplete", "BackoffLimitExceeded", "Job has reached the backoff limit")
    return [fresh, running, invalid, failed]


@pytest.mark.parametrize(
    "made", every_kind_of_status(), ids=["fresh", "running", "invalid", "failed"]
)
def test_every_rendered_status_fits_the_crd_schema(made: Report) -> None:
    status = rendered(made, EARLIER)
    validator = jsonschema.Draft7Validator(status_schema(), format_checker=FORMATS)
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(status)
    ]
    assert errors == []


def test_the_schema_check_rejects_a_field_the_crd_does_not_declare() -> None:
    status = rendered(all_true(new_report({}, 1)), EARLIER)
    status["workers"]["queued"] = 3  # a renamed field: the API server would prune it
    validator = jsonschema.Draft7Validator(status_schema(), format_checker=FORMATS)
    assert not validator.is_valid(status)


def test_a_condition_this_pass_did_not_look_at_keeps_its_value() -> None:
    first = rendered(all_true(new_report({}, 1)), EARLIER)
    report = new_report(first, 1)
    report.set("AwsReady", True, "Fine")  # a pass that stopped early, after AWS
    second = rendered(report, LATER)
    workers = condition(second, "WorkersAvailable")
    assert workers == condition(first, "WorkersAvailable")  # time and generation as they were
    assert condition(second, "Ready")["status"] == "True"
    assert second["phase"] == "Running"


def test_ready_is_never_true_for_an_older_generation() -> None:
    first = rendered(all_true(new_report({}, 1)), EARLIER)
    report = new_report(first, 2)  # the spec changed; this pass stopped after AWS
    report.set("AwsReady", True, "Fine")
    second = rendered(report, LATER)
    assert condition(second, "AwsReady")["observedGeneration"] == 2
    assert condition(second, "WorkersAvailable")["observedGeneration"] == 1
    ready = condition(second, "Ready")
    assert (ready["status"], ready["observedGeneration"]) == ("False", 2)
    assert "WorkersAvailable" in ready["message"]
    third = rendered(all_true(new_report(second, 2)), LATER)
    assert condition(third, "Ready")["status"] == "True"


def test_reconciled_tells_the_last_error_without_touching_ready() -> None:
    first = rendered(all_true(new_report({}, 1)), EARLIER)
    report = new_report(first, 1)
    report.set("Reconciled", False, "ThrottlingException", "sqs:GetQueueUrl q failed: Rate")
    second = rendered(report, LATER)
    assert condition(second, "Reconciled")["reason"] == "ThrottlingException"
    assert condition(second, "Ready")["status"] == "True"
    assert second["phase"] == "Running"
