"""The one idempotent reconcile every handler calls:
parse -> AWS facts -> plan -> build -> apply (staged) -> status."""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import ValidationError

from farflow.api import AirflowCluster, field_errors, parse, resolve
from farflow.api.spec import AirflowClusterSpec
from farflow.api.status import ConditionType
from farflow.aws.cleanup import remove_aws
from farflow.aws.facts import creates_aws, gather
from farflow.build import Owner, generate_value, manifests, migration_job_name
from farflow.kube import events, observe
from farflow.kube.apply import prune, sync
from farflow.kube.client import Kube, Manifest
from farflow.kube.observability import output_block, sync_logging
from farflow.kube.status import Report, changed
from farflow.plan import AwsFacts, Plan, plan

AWS_RETRY, SETUP_RETRY, PROGRESS_RETRY = 60.0, 30.0, 5.0
FINALIZER = "farflow.io/aws-cleanup"  # also kopf's own, so kopf runs the deletion handler
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
    if creates_aws(spec):
        _hold_for_cleanup(body, kube)
    gathered = gather(cluster, spec)
    for kind, (ok, reason, message) in gathered.conditions.items():
        report.set(kind, ok, reason, message)
    report.aws = gathered.resources
    facts = gathered.facts
    if facts is None:
        return AWS_RETRY if gathered.errors else SETUP_RETRY
    if spec.database.rds is None and not _user_database_secret(facts, cluster, kube, report):
        return SETUP_RETRY
    _forward_pod_logs(spec, facts, cluster, kube)
    planned = plan(cluster, facts)
    # A part of AWS that failed leaves its Secret out of the plan: prune only a complete one.
    complete = not gathered.errors
    delay = _apply(
        planned, _owner(body), kube, report, mirrored=gathered.mirrored, prune_extra=complete
    )
    if gathered.errors:
        return AWS_RETRY
    return SETUP_RETRY if gathered.provisioning else delay


def _hold_for_cleanup(body: dict[str, Any], kube: Kube) -> None:
    """The finalizer that keeps the AirflowCluster until its AWS resources are cleaned up."""
    finalizers = body["metadata"].get("finalizers") or []
    if FINALIZER not in finalizers:
        meta = body["metadata"]
        kube.patch_metadata(
            body["apiVersion"],
            body["kind"],
            meta["name"],
            meta["namespace"],
            {"finalizers": [*finalizers, FINALIZER]},
        )


def _user_database_secret(
    facts: AwsFacts, cluster: AirflowCluster, kube: Kube, report: Report
) -> bool:
    database = facts.database_secret
    if not observe.secret_has_key(kube, database.name, database.key, cluster.metadata.namespace):
        report.set(
            "DatabaseReady",
            False,
            "SecretNotFound",
            f"Secret {database.name} has no key {database.key}: create it with the "
            "database's SQLAlchemy URL",
        )
        return False
    report.set("DatabaseReady", True, "SecretFound", f"Secret {database.name}")
    return True


def _forward_pod_logs(
    spec: AirflowClusterSpec, facts: AwsFacts, cluster: AirflowCluster, kube: Kube
) -> None:
    """Fargate's log router ships the cluster's pod logs to its CloudWatch log group."""
    cloudwatch, meta = spec.logging.cloudwatch, cluster.metadata
    block = None
    if cloudwatch.enabled and facts.log_group_arn and cloudwatch.log_group:
        block = output_block(meta.namespace, meta.name, facts.region, cloudwatch.log_group)
    sync_logging(kube, f"{meta.namespace}/{meta.name}", block)


def clean_up(body: dict[str, Any], kube: Kube) -> float | None:
    """On deletion: removes what FarFlow made outside the owner's reach (AWS resources, task
    namespace objects, the pod log routing); seconds until it should look again, or None."""
    cluster = parse(_manifest(body))
    spec, meta = resolve(cluster), cluster.metadata
    if spec.pods.namespace and spec.pods.namespace != meta.namespace:
        prune(kube, meta.name, {spec.pods.namespace}, [])
    sync_logging(kube, f"{meta.namespace}/{meta.name}", None)
    return None if remove_aws(cluster, spec) else PROGRESS_RETRY


def _manifest(body: dict[str, Any]) -> dict[str, Any]:
    """The object as a user wrote it: what the spec model validates (status is ours)."""
    return {key: body[key] for key in ("apiVersion", "kind", "metadata", "spec")}


def _parsed(body: dict[str, Any], report: Report) -> AirflowCluster:
    try:
        return parse(_manifest(body))
    except ValidationError as error:
        message = "; ".join(str(e) for e in field_errors(error))
        report.invalid = message
        raise InvalidSpecError(message) from error


def _owner(body: dict[str, Any]) -> Owner:
    meta = body["metadata"]
    return Owner(body["apiVersion"], body["kind"], meta["name"], meta["uid"])


def _apply(
    planned: Plan,
    owner: Owner,
    kube: Kube,
    report: Report,
    *,
    mirrored: dict[str, dict[str, str]],
    prune_extra: bool,
) -> float | None:
    wanted = manifests(planned, owner, generate_value, mirrored)
    deployments = [m for m in wanted if m["kind"] == "Deployment"]
    sync(kube, [m for m in wanted if m["kind"] != "Deployment"])
    if prune_extra:
        namespaces = {planned.names.namespace, planned.task_namespace}
        prune(kube, planned.names.cluster, namespaces, wanted)
    seen: dict[str, observe.DeploymentState] = {}  # read while rolling; not read twice
    try:
        if not _migrated(planned, kube, report):
            return None if report.failed else PROGRESS_RETRY
        return _roll(planned, deployments, kube, seen)
    finally:
        _observe_components(planned, kube, report, seen)


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


def _roll(
    planned: Plan,
    deployments: list[Manifest],
    kube: Kube,
    seen: dict[str, observe.DeploymentState],
) -> float | None:
    """Applies the Deployments stage by stage; a stage starts once the one before is out.
    Records in ``seen`` the state of each component it looked at."""
    for stage in sorted({c.rollout_stage for c in planned.components}):
        staged = [c.name for c in planned.components if c.rollout_stage == stage]
        names = {planned.names.of(name) for name in staged}
        sync(kube, [m for m in deployments if m["metadata"]["name"] in names])
        for name in staged:
            seen[name] = observe.deployment(kube, planned.names.of(name), planned.names.namespace)
        if not all(seen[name].rolled_out for name in staged):
            return PROGRESS_RETRY
    return None


def _observe_components(
    planned: Plan, kube: Kube, report: Report, seen: dict[str, observe.DeploymentState]
) -> None:
    namespace = planned.names.namespace
    for condition, components in AVAILABILITY.items():
        states = {
            c.name: seen.get(c.name)
            or observe.deployment(kube, planned.names.of(c.name), namespace)
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
