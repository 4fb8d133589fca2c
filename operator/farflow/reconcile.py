"""The one idempotent reconcile every handler calls:
parse -> resolve -> AWS facts -> plan -> build -> apply (staged) -> status."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from farflow import airflow_api, airflow_objects, cleanup, ecs_executor
from farflow.api import AirflowCluster, field_errors, parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.api.status import AwsStatus, Condition, MigrationStatus
from farflow.aws.cleanup import as_recorded, leftovers
from farflow.aws.facts import Gathered, Known, gather
from farflow.aws.session import AwsError
from farflow.ecs_executor import ExecutorDefinition
from farflow.kube import events, observe
from farflow.kube.apply import prune, sync, write
from farflow.kube.client import KUBERNETES_ERRORS, Kube, describe
from farflow.kube.log_routing import output_block, route_pod_logs
from farflow.kube.status import Report, changed, previous_status, wire
from farflow.manifests import manifests, migration_job_name, prune_selectors
from farflow.manifests.config_map import content_hash
from farflow.manifests.secrets import decoded, encoded
from farflow.objects import SKIP_AWS_CLEANUP_ANNOTATION, Manifest, Owner, owner_value
from farflow.plan import AwsFacts, Plan, plan
from farflow.plan.config import SHARED_KEYS, in_cluster_url
from farflow.rollout import PROGRESS_RETRY, Observed, decide, scaled
from farflow.scaler import with_last_look
from farflow.tenancy import admit

AWS_RETRY, SETUP_RETRY = 60.0, 30.0
# The Event reason for arriving in each phase: the step the cluster just took.
STEP_OF_PHASE = {"Migrating": "Migrating", "Running": "Rolled"}


class InvalidSpecError(Exception):
    """The spec cannot work; nothing but editing it helps."""


@dataclass
class AwsRecheck:
    """The AWS side, checked at most every ``seconds`` while the spec stays the same and the
    last check found everything in place: AWS resources do not drift by themselves the way
    Kubernetes objects can, and every check costs calls (and money at scale)."""

    seconds: float
    _last: dict[str, tuple[int, float, Gathered]] = field(default_factory=dict)
    _done: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)

    def gathered(self, body: dict[str, Any], check: Callable[[], Gathered]) -> Gathered:
        uid, generation = body["metadata"]["uid"], body["metadata"]["generation"]
        last = self._last.get(uid)
        if last is not None and last[0] == generation and time.monotonic() < last[1]:
            return last[2]
        gathered = check()
        if gathered.errors or gathered.provisioning or gathered.facts is None:
            self._last.pop(uid, None)  # look again next pass
        else:
            self._last[uid] = (generation, time.monotonic() + self.seconds, gathered)
        return gathered

    def due(self, uid: str, part: str, fingerprint: str) -> bool:
        """Whether a part done apart from gather must be done again: what it is made of
        changed, or its last check is older than the period."""
        last = self._done.get((uid, part))
        return last is None or last[0] != fingerprint or time.monotonic() >= last[1]

    def done(self, uid: str, part: str, fingerprint: str) -> None:
        self._done[(uid, part)] = (fingerprint, time.monotonic() + self.seconds)

    def forget(self, uid: str) -> None:
        """A deleted cluster's entries."""
        self._last.pop(uid, None)
        for key in [key for key in self._done if key[0] == uid]:
            del self._done[key]


def reconcile(body: dict[str, Any], kube: Kube, recheck: AwsRecheck | None = None) -> float | None:
    """Moves the cluster one step closer to its spec; returns seconds until it should look
    again while something is still converging, or None once settled."""
    report = Report(previous_status(body.get("status")), body["metadata"]["generation"])
    try:
        delay = _converge(body, kube, report, recheck or AwsRecheck(0))
        report.settled = delay is None and not report.failed
        return delay
    except KUBERNETES_ERRORS as error:
        report.set("Reconciled", False, "KubernetesApiError", describe(error))
        raise
    finally:
        _write_status(body, kube, report)


def _converge(
    body: dict[str, Any], kube: Kube, report: Report, recheck: AwsRecheck
) -> float | None:
    cluster = resolve(_parsed(body, report))
    report.suspended = cluster.spec.suspend
    gathered = recheck.gathered(body, lambda: gather(cluster, _known(cluster, kube, report)))
    report.record(gathered.conditions)
    report.aws = gathered.status
    _passed(report, gathered.errors)
    facts = gathered.facts
    if facts is None:
        return AWS_RETRY if gathered.errors else SETUP_RETRY
    admission = admit(cluster, kube)
    report.record([admission.condition])
    planned = plan(cluster, facts, tasks_allowed=admission.allowed)
    read = secrets_read(planned, gathered.mirrored, kube)
    if cluster.spec.database.rds is None and not _user_database_secret(cluster, read, report):
        return SETUP_RETRY
    report.record([_forward_pod_logs(cluster, facts, kube)])
    # A part of AWS that failed leaves its Secret out of the plan: prune only a complete one.
    complete = not gathered.errors
    delay = _roll_out(
        planned,
        manifests(planned, _owner(body), gathered.mirrored, content_hash(read)),
        kube,
        report,
        prune_extra=complete,
    )
    synced = _sync_airflow_objects(cluster, planned, gathered.mirrored, kube=kube, report=report)
    if gathered.errors or not _ecs_executor(
        cluster, planned, facts, kube=kube, read=read, report=report, recheck=recheck
    ):
        return AWS_RETRY
    if gathered.provisioning:
        return SETUP_RETRY
    return delay if synced else min(delay or SETUP_RETRY, SETUP_RETRY)


def _profiles_in_use(cluster: ResolvedCluster, kube: Kube) -> set[str]:
    """The Fargate profiles FarFlow made that the cluster's pods are still on."""
    if not cluster.spec.fargate.profile.create:
        return set()
    owner = owner_value(cluster.namespace, cluster.name)
    return observe.fargate_profiles(kube, {cluster.namespace, cluster.spec.pods.namespace}, owner)


def _passed(report: Report, errors: list[AwsError]) -> None:
    """Reconciled: whether this pass got through, or the first error that stopped it."""
    if errors:
        report.set("Reconciled", False, errors[0].reason, "; ".join(map(str, errors)))
    else:
        report.set("Reconciled", True, "Succeeded", "the last pass applied the spec")


def _known(cluster: ResolvedCluster, kube: Kube, report: Report) -> Known:
    """What the cluster had: status's record of AWS, the keys in its Secret, and whether
    its database was ever migrated (once it was, lost keys are never made anew)."""
    live = kube.get("v1", "Secret", cluster.names.secrets, cluster.namespace)
    keys = decoded((live or {}).get("data") or {})
    migrated = report.previous.migration is not None
    complete = all(key in keys for key in SHARED_KEYS)
    return Known(
        report.previous.aws or AwsStatus(),
        keys if complete else None,
        migrated,
        _profiles_in_use(cluster, kube),
    )


def secrets_read(
    planned: Plan, mirrored: Mapping[str, Mapping[str, str]], kube: Kube
) -> dict[str, dict[str, str]]:
    """The data of each Secret key the pods read (base64, as stored), from the values
    mirrored from AWS or else the live Secret; a missing key reads as absent."""
    read = {}
    for name, keys in sorted(planned.secret_keys().items()):
        if name in mirrored:
            data = encoded(dict(mirrored[name]))
        else:
            live = kube.get("v1", "Secret", name, planned.names.namespace)
            data = (live or {}).get("data") or {}
        read[name] = {key: data[key] for key in sorted(keys) if key in data}
    return read


def _ecs_executor(
    cluster: ResolvedCluster,
    planned: Plan,
    facts: AwsFacts,
    *,
    kube: Kube,
    read: Mapping[str, Mapping[str, str]],
    report: Report,
    recheck: AwsRecheck,
) -> bool:
    """The Ecs executor's task definition, registered when it changed (or is due a
    recheck) once the Secrets it mirrors exist; False (and AwsReady False, saying why)
    while it cannot be registered yet."""
    try:
        wanted = ecs_executor.definition(cluster, planned, facts, kube, read)
        if isinstance(wanted, ExecutorDefinition):
            part = (cluster.uid, "ecs-executor", wanted.fingerprint)
            if recheck.due(*part):
                ecs_executor.register(cluster, wanted, facts.region)
                recheck.done(*part)
    except AwsError as error:
        report.set("AwsReady", False, error.reason, str(error))
        _passed(report, [error])
        return False
    except KeyError as missing:  # a Secret key the executor's tasks read (never its value)
        report.set("AwsReady", False, "SecretNotFound", f"the Ecs executor: {missing.args[0]}")
        return False
    if isinstance(wanted, str):
        report.set("AwsReady", False, "EcsExecutorPending", wanted)
        return False
    return True


def _sync_airflow_objects(
    cluster: ResolvedCluster,
    planned: Plan,
    mirrored: Mapping[str, Mapping[str, str]],
    *,
    kube: Kube,
    report: Report,
) -> bool:
    """The declared pools, variables and connections, once the API server serves; nothing
    when none is declared and none FarFlow created is left to delete. False while they are
    not as declared."""
    previous = report.previous.airflow_objects
    if not airflow_objects.declares_any(cluster.spec.airflow) and not (
        previous and previous.created
    ):
        return True
    serving = report.conditions.get("ApiServerAvailable")
    if serving is None or not serving.holds:
        message = "waiting for the API server to serve"
        report.set("AirflowObjectsSynced", False, "WaitingForApiServer", message)
        return False
    password = _admin_password(planned, mirrored, kube)
    if password is None:
        message = f"Secret {planned.admin_password.name} has no key {planned.admin_password.key}"
        report.set("AirflowObjectsSynced", False, "SecretNotFound", message)
        return False
    wanted = airflow_objects.declared(
        cluster.spec.airflow, airflow_objects.secret_reader(cluster, kube)
    )
    url = in_cluster_url(cluster.spec, cluster.names)
    endpoint = airflow_api.Endpoint(url, cluster.spec.admin.username, password)
    report.airflow_objects, synced = airflow_objects.sync(endpoint, wanted, previous)
    report.record([synced])
    return synced.holds


def _admin_password(
    planned: Plan, mirrored: Mapping[str, Mapping[str, str]], kube: Kube
) -> str | None:
    ref = planned.admin_password
    if ref.key in mirrored.get(ref.name, {}):
        return mirrored[ref.name][ref.key]
    return airflow_objects.secret_value(kube, ref.name, planned.names.namespace, ref.key)


def _user_database_secret(
    cluster: ResolvedCluster, read: Mapping[str, Mapping[str, str]], report: Report
) -> bool:
    database = cluster.database_secret
    if database.key not in read.get(database.name, {}):
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
    `farflow.cleanup`); seconds until it should look again, or None once done. Status says
    how far it got and why it is stuck, with a Warning Event for each failed pass."""
    report = Report(previous_status(body.get("status")), body["metadata"]["generation"])
    report.deleting = True
    try:
        delay = _clean_up(body, kube, report)
    except (AwsError, InvalidSpecError) as error:
        reason = error.reason if isinstance(error, AwsError) else "InvalidSpec"
        message = f"cleanup failed: {error}. {ESCAPE}"
        report.set("Deleting", True, reason, message)
        events.emit(kube, body, "CleanupFailed", message, warning=True)
        raise
    finally:
        _write_status(body, kube, report)
    return delay


ESCAPE = (
    f"Fix the cause, or annotate the AirflowCluster {SKIP_AWS_CLEANUP_ANNOTATION}=true to "
    "finish the deletion and leave its AWS resources (an Event lists them)"
)


def _clean_up(body: dict[str, Any], kube: Kube, report: Report) -> float | None:
    annotations = body["metadata"].get("annotations") or {}
    skip = annotations.get(SKIP_AWS_CLEANUP_ANNOTATION) == "true"
    cluster = as_recorded(resolve(_parsed(body, report)), report.previous.aws)
    if report.previous.aws is None:  # no pass got as far as AWS: nothing was made there
        return None if cleanup.clean_up(cluster, kube, skip_aws=True) else PROGRESS_RETRY
    if skip and (left := leftovers(cluster)):
        events.emit(kube, body, "CleanupSkipped", "left in AWS: " + "; ".join(left))
    if cleanup.clean_up(cluster, kube, skip_aws=skip):
        return None
    report.set("Deleting", True, "CleaningUp", "removing what FarFlow made for the cluster")
    return PROGRESS_RETRY


def _manifest(body: dict[str, Any]) -> dict[str, Any]:
    """The object as a user wrote it: what the spec model validates (status is ours)."""
    return {key: body[key] for key in ("apiVersion", "kind", "metadata", "spec")}


def _parsed(body: dict[str, Any], report: Report) -> AirflowCluster:
    try:
        return parse(_manifest(body))
    except ValidationError as error:
        message = "; ".join(str(e) for e in field_errors(error))
        report.invalid = message
        report.set("Reconciled", False, "InvalidSpec", message)
        raise InvalidSpecError(message) from error


def _owner(body: dict[str, Any]) -> Owner:
    meta = body["metadata"]
    return Owner(body["apiVersion"], body["kind"], meta["name"], meta["uid"])


def _roll_out(
    planned: Plan, wanted: list[Manifest], kube: Kube, report: Report, *, prune_extra: bool
) -> float | None:
    """Applies everything but the Deployments, then observes the rollout once, decides its
    next step, and applies the Deployments the decision names."""
    sync(kube, [m for m in wanted if m["kind"] != "Deployment"])
    if prune_extra:
        prune(kube, prune_selectors(planned.names, planned.task_namespace), wanted)
    observed = _observe(planned, kube, report.previous.migration)
    deployments = scaled(planned, _deployments(planned, wanted), observed)
    decision = decide(planned, deployments, observed)
    write(kube, [deployments[name] for name in decision.apply])
    report.migration = MigrationStatus(job=observed.job_name, attempts=observed.attempts)
    if decision.rerun_migration:  # the next pass creates it again
        kube.delete("batch/v1", "Job", observed.job_name, planned.names.namespace)
        report.migration = MigrationStatus(job=observed.job_name, attempts=observed.attempts + 1)
    report.record(decision.conditions)
    report.failed |= decision.failed
    if decision.workers is not None:
        report.workers = with_last_look(decision.workers, report.previous.workers)
    report.airflow_version = decision.airflow_version
    report.api_server_url = observe.service_url(
        kube, planned.names.service, planned.names.namespace, planned.service.port
    )
    return decision.delay


def _deployments(planned: Plan, wanted: list[Manifest]) -> dict[str, Manifest]:
    """Each component's wanted Deployment, by component name."""
    by_name = {m["metadata"]["name"]: m for m in wanted if m["kind"] == "Deployment"}
    return {c.name: by_name[planned.names.of(c.name)] for c in planned.components}


def _observe(planned: Plan, kube: Kube, migration: MigrationStatus | None) -> Observed:
    """The migration Job and each component's Deployment, each read once; how often this
    migration ran, from status."""
    names = planned.names
    job_name = migration_job_name(planned)
    deployments = {
        c.name: kube.get("apps/v1", "Deployment", names.of(c.name), names.namespace)
        for c in planned.components
    }
    now = datetime.datetime.now(datetime.UTC)
    return Observed(
        job_name=job_name,
        job=observe.job(kube, job_name, names.namespace),
        deployments=deployments,
        now=now,
        attempts=migration.attempts if migration and migration.job == job_name else 1,
        start_failures=_start_failures(planned, kube, deployments, now),
    )


def _start_failures(
    planned: Plan, kube: Kube, deployments: dict[str, Manifest | None], now: datetime.datetime
) -> dict[str, str]:
    """Why the pods of each component that is not available and has stalled do not start
    (pods are read only then: never at rest, nor while a rollout progresses)."""
    failures = {}
    for name, live in deployments.items():
        if live is None or observe.deployment_state(live).available:
            continue
        if not observe.stalled(live, now):
            continue
        failure = observe.start_failure(observe.deployment_pods(kube, live))
        if failure is not None:
            failures[name] = failure
    return failures


def _write_status(body: dict[str, Any], kube: Kube, report: Report) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rendered = report.render(now)
    status = wire(rendered)
    previous = body.get("status") or {}
    if not changed(previous, status):
        return
    kube.patch_status(body, status)
    if not previous:
        events.emit(kube, body, "Created", "creating the cluster's objects")
    if rendered.phase != previous.get("phase"):
        ready = next(c for c in rendered.conditions if c.type == "Ready")
        warning = rendered.phase in ("Failed", "Degraded")
        step = STEP_OF_PHASE.get(rendered.phase, rendered.phase)
        events.emit(kube, body, step, ready.message, warning=warning)
