"""The one idempotent reconcile every handler calls:
parse -> resolve -> AWS facts -> plan -> build -> apply (staged) -> status."""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import ValidationError

from farflow import cleanup
from farflow.api import AirflowCluster, field_errors, parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.api.status import Condition
from farflow.aws.facts import gather
from farflow.kube import events, observe
from farflow.kube.apply import prune, sync, write
from farflow.kube.client import Kube
from farflow.kube.log_routing import output_block, route_pod_logs
from farflow.kube.status import Report, changed, previous_status, wire
from farflow.manifests import generate_value, manifests, migration_job_name, prune_selectors
from farflow.objects import Manifest, Owner, owner_value
from farflow.plan import AwsFacts, Plan, plan
from farflow.rollout import PROGRESS_RETRY, Observed, decide
from farflow.tenancy import admit

AWS_RETRY, SETUP_RETRY = 60.0, 30.0
# The Event reason for arriving in each phase: the step the cluster just took.
STEP_OF_PHASE = {"Migrating": "Migrating", "Running": "Rolled"}


class InvalidSpecError(Exception):
    """The spec cannot work; nothing but editing it helps."""


def reconcile(body: dict[str, Any], kube: Kube) -> float | None:
    """Moves the cluster one step closer to its spec; returns seconds until it should look
    again while something is still converging, or None once settled."""
    report = Report(previous_status(body.get("status")), body["metadata"]["generation"])
    try:
        delay = _converge(body, kube, report)
        report.settled = delay is None and not report.failed
        return delay
    finally:
        _write_status(body, kube, report)


def _converge(body: dict[str, Any], kube: Kube, report: Report) -> float | None:
    cluster = resolve(_parsed(body, report))
    report.suspended, report.airflow_version = cluster.spec.suspend, cluster.spec.airflow.version
    gathered = gather(cluster, _profiles_in_use(cluster, kube))
    report.record(gathered.conditions)
    report.aws = gathered.status
    facts = gathered.facts
    if facts is None:
        return AWS_RETRY if gathered.errors else SETUP_RETRY
    if cluster.spec.database.rds is None and not _user_database_secret(cluster, kube, report):
        return SETUP_RETRY
    admission = admit(cluster, kube)
    report.record([admission.condition])
    report.record([_forward_pod_logs(cluster, facts, kube)])
    planned = plan(cluster, facts, tasks_allowed=admission.allowed)
    # A part of AWS that failed leaves its Secret out of the plan: prune only a complete one.
    complete = not gathered.errors
    delay = _roll_out(
        planned, _owner(body), kube, report, mirrored=gathered.mirrored, prune_extra=complete
    )
    if gathered.errors:
        return AWS_RETRY
    return SETUP_RETRY if gathered.provisioning else delay


def _profiles_in_use(cluster: ResolvedCluster, kube: Kube) -> set[str]:
    """The Fargate profiles FarFlow made that the cluster's pods are still on."""
    if not cluster.spec.fargate.profile.create:
        return set()
    owner = owner_value(cluster.namespace, cluster.name)
    return observe.fargate_profiles(kube, {cluster.namespace, cluster.spec.pods.namespace}, owner)


def _user_database_secret(cluster: ResolvedCluster, kube: Kube, report: Report) -> bool:
    database = cluster.database_secret
    if not observe.secret_has_key(kube, database.name, database.key, cluster.namespace):
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


def _forward_pod_logs(cluster: ResolvedCluster, facts: AwsFacts, kube: Kube) -> Condition:
    """Fargate's log router ships the cluster's pod logs to its CloudWatch log group."""
    cloudwatch = cluster.spec.logging.cloudwatch
    block = None
    if cloudwatch.enabled and facts.log_group_arn:
        block = output_block(cluster.namespace, cluster.name, facts.region, cloudwatch.log_group)
    return route_pod_logs(kube, cluster.qualified_name, block, cloudwatch.log_group)


def clean_up(body: dict[str, Any], kube: Kube) -> float | None:
    """On deletion: removes what FarFlow made outside the owner's reach (see
    `farflow.cleanup`); seconds until it should look again, or None once done."""
    cluster = resolve(parse(_manifest(body)))
    return None if cleanup.clean_up(cluster, kube) else PROGRESS_RETRY


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


def _roll_out(
    planned: Plan,
    owner: Owner,
    kube: Kube,
    report: Report,
    *,
    mirrored: dict[str, dict[str, str]],
    prune_extra: bool,
) -> float | None:
    """Applies everything but the Deployments, then observes the rollout once, decides its
    next step, and applies the Deployments the decision names."""
    wanted = manifests(planned, owner, generate_value, mirrored)
    sync(kube, [m for m in wanted if m["kind"] != "Deployment"])
    if prune_extra:
        prune(kube, prune_selectors(planned.names, planned.task_namespace), wanted)
    deployments = _deployments(planned, wanted)
    decision = decide(planned, deployments, _observe(planned, kube))
    write(kube, [deployments[name] for name in decision.apply])
    report.record(decision.conditions)
    report.failed |= decision.failed
    if decision.workers is not None:
        report.workers = decision.workers
    report.api_server_url = observe.service_url(
        kube, planned.names.service, planned.names.namespace, planned.service.port
    )
    return decision.delay


def _deployments(planned: Plan, wanted: list[Manifest]) -> dict[str, Manifest]:
    """Each component's wanted Deployment, by component name."""
    by_name = {m["metadata"]["name"]: m for m in wanted if m["kind"] == "Deployment"}
    return {c.name: by_name[planned.names.of(c.name)] for c in planned.components}


def _observe(planned: Plan, kube: Kube) -> Observed:
    """The migration Job and each component's Deployment, each read once."""
    names = planned.names
    job_name = migration_job_name(planned)
    return Observed(
        job_name=job_name,
        job=observe.job(kube, job_name, names.namespace),
        deployments={
            c.name: kube.get("apps/v1", "Deployment", names.of(c.name), names.namespace)
            for c in planned.components
        },
    )


def _write_status(body: dict[str, Any], kube: Kube, report: Report) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rendered = report.render(now)
    status = wire(rendered)
    previous = body.get("status") or {}
    if not changed(previous, status):
        return
    meta = body["metadata"]
    kube.patch_status(body["apiVersion"], body["kind"], meta["name"], meta["namespace"], status)
    if not previous:
        events.emit(kube, body, "Created", "creating the cluster's objects")
    if rendered.phase != previous.get("phase"):
        ready = next(c for c in rendered.conditions if c.type == "Ready")
        warning = rendered.phase in ("Failed", "Degraded")
        step = STEP_OF_PHASE.get(rendered.phase, rendered.phase)
        events.emit(kube, body, step, ready.message, warning=warning)
