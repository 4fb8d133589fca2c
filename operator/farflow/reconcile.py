"""The one idempotent reconcile every handler calls:
parse -> AWS facts -> plan -> build -> apply (staged) -> status."""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import ValidationError

from farflow.api import AirflowCluster, field_errors, parse, resolve
from farflow.api.spec import AirflowClusterSpec
from farflow.api.status import ConditionType
from farflow.aws.facts import gather
from farflow.aws.session import AwsError
from farflow.build import Owner, generate_value, manifests, migration_job_name
from farflow.kube import events, observe
from farflow.kube.apply import prune, sync
from farflow.kube.client import Kube, Manifest
from farflow.kube.status import Report, changed
from farflow.plan import Plan, plan

AWS_RETRY, SETUP_RETRY, PROGRESS_RETRY = 60.0, 30.0, 5.0
# The Event reason for arriving in each phase: the step the cluster just took.
STEP_OF_PHASE = {"Migrating": "Migrating", "Running": "Rolled"}
# Which condition reports the Deployments of which component.
AVAILABILITY: dict[ConditionType, tuple[str, ...]] = {
    "ApiServerAvailable": ("api-server",),
    "SchedulerAvailable": ("scheduler", "dag-processor", "triggerer"),
    "WorkersAvailable": ("worker",),
}


class InvalidSpecError(Exception):
    """The spec cannot work; nothing but editing it helps."""


def reconcile(body: dict[str, Any], kube: Kube) -> float | None:
    """Moves the cluster one step closer to its spec; returns seconds until it should look
    again while something is still converging, or None once settled."""
    report = Report(previous=body.get("status") or {}, generation=body["metadata"]["generation"])
    try:
        delay = _converge(body, kube, report)
        report.settled = delay is None and not report.failed
        return delay
    finally:
        _write_status(body, kube, report)


def _converge(body: dict[str, Any], kube: Kube, report: Report) -> float | None:
    cluster = _parsed(body, report)
    spec = resolve(cluster)
    report.suspended, report.airflow_version = spec.suspend, spec.airflow.version
    try:
        facts = gather(cluster, spec)
    except AwsError as error:
        report.set("AwsReady", False, error.reason, str(error))
        return AWS_RETRY
    report.set("AwsReady", True, "Reachable", f"region {facts.region}")
    report.set("BrokerReady", True, "QueuesReady", f"{len(facts.queue_urls)} SQS queue(s)")
    _check_fargate(spec, report)
    database = facts.database_secret
    if not observe.secret_has_key(kube, database.name, database.key, cluster.metadata.namespace):
        report.set(
            "DatabaseReady",
            False,
            "SecretNotFound",
            f"Secret {database.name} has no key {database.key}: create it with the "
            "database's SQLAlchemy URL",
        )
        return SETUP_RETRY
    report.set("DatabaseReady", True, "SecretFound", f"Secret {database.name}")
    planned = plan(cluster, facts)
    return _apply(planned, _owner(body), kube, report)


def _parsed(body: dict[str, Any], report: Report) -> AirflowCluster:
    try:
        return parse({k: body[k] for k in ("apiVersion", "kind", "metadata", "spec")})
    except ValidationError as error:
        message = "; ".join(str(e) for e in field_errors(error))
        report.invalid = message
        raise InvalidSpecError(message) from error


def _check_fargate(spec: AirflowClusterSpec, report: Report) -> None:
    if spec.fargate.profile.create:
        report.set(
            "FargateProfileReady",
            False,
            "NotAvailable",
            "this FarFlow version does not create Fargate profiles yet; set "
            "fargate.profile.create: false and select farflow.io/fargate=true",
        )
    else:
        report.set(
            "FargateProfileReady",
            True,
            "ExistingProfile",
            "pods carry farflow.io/fargate=true for an existing Fargate profile",
        )


def _owner(body: dict[str, Any]) -> Owner:
    meta = body["metadata"]
    return Owner(body["apiVersion"], body["kind"], meta["name"], meta["uid"])


def _apply(planned: Plan, owner: Owner, kube: Kube, report: Report) -> float | None:
    wanted = manifests(planned, owner, generate_value)
    deployments = [m for m in wanted if m["kind"] == "Deployment"]
    sync(kube, [m for m in wanted if m["kind"] != "Deployment"])
    namespaces = {planned.names.namespace, planned.task_namespace}
    prune(kube, planned.names.cluster, namespaces, wanted)
    try:
        if not _migrated(planned, kube, report):
            return None if report.failed else PROGRESS_RETRY
        return _roll(planned, deployments, kube)
    finally:
        _observe_components(planned, kube, report)


def _migrated(planned: Plan, kube: Kube, report: Report) -> bool:
    name = migration_job_name(planned)
    job = observe.job(kube, name, planned.names.namespace)
    if job.phase == "Complete":
        report.set("MigrationComplete", True, "Migrated", f"Job {name} completed")
    elif job.phase == "Failed":
        report.fail(
            "MigrationComplete",
            job.reason or "MigrationFailed",
            f"Job {name} failed: {job.message}; fix the cause, then delete the Job to retry",
        )
    else:
        report.set("MigrationComplete", False, "Migrating", f"Job {name} runs airflow db migrate")
    return job.phase == "Complete"


def _roll(planned: Plan, deployments: list[Manifest], kube: Kube) -> float | None:
    """Applies the Deployments stage by stage; a stage starts once the one before is out."""
    for stage in sorted({c.rollout_stage for c in planned.components}):
        names = {planned.names.of(c.name) for c in planned.components if c.rollout_stage == stage}
        sync(kube, [m for m in deployments if m["metadata"]["name"] in names])
        states = [observe.deployment(kube, name, planned.names.namespace) for name in names]
        if not all(state.rolled_out for state in states):
            return PROGRESS_RETRY
    return None


def _observe_components(planned: Plan, kube: Kube, report: Report) -> None:
    namespace = planned.names.namespace
    for condition, components in AVAILABILITY.items():
        states = {
            c.name: observe.deployment(kube, planned.names.of(c.name), namespace)
            for c in planned.components
            if c.name in components
        }
        waiting = sorted(name for name, state in states.items() if not state.available)
        if waiting:
            report.set(condition, False, "Unavailable", "not available yet: " + ", ".join(waiting))
        else:
            report.set(condition, True, "Available", "all replicas ready")
        if condition == "WorkersAvailable" and "worker" in states:
            worker = states["worker"]
            report.workers = {"desired": worker.desired, "ready": worker.ready}
    report.api_server_url = observe.service_url(
        kube, planned.names.service, namespace, planned.service.port
    )


def _write_status(body: dict[str, Any], kube: Kube, report: Report) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = report.render(now)
    previous = body.get("status") or {}
    if not changed(previous, status):
        return
    meta = body["metadata"]
    kube.patch_status(body["apiVersion"], body["kind"], meta["name"], meta["namespace"], status)
    if not previous:
        events.emit(body, "Created", "creating the cluster's objects")
    if status["phase"] != previous.get("phase"):
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        warning = status["phase"] in ("Failed", "Degraded")
        step = STEP_OF_PHASE.get(status["phase"], status["phase"])
        events.emit(body, step, ready["message"], warning=warning)
