"""What the operator ensures in AWS before planning a cluster, and what it learns there.

Each part (queues, logs, database, admin password, DAG bucket, Fargate profile, ECS) runs on
its own: one failing part is reported and the others still go ahead. A part that fails keeps
its last known fact (from status.aws), so a throttled or denied call changes no setting and
rolls no pod; and a transient fault (throttling, 5xx) changes no condition either.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from farflow.api.names import EcsNames
from farflow.api.resolve import ResolvedCluster
from farflow.api.spec import EcsSpec, Resources
from farflow.api.status import AwsStatus, Condition, ConditionType, NamedState
from farflow.aws import bootstrap_objects, ecs, eks, kms, rds, s3, secrets
from farflow.aws.cloudwatch import Target, sync_metrics
from farflow.aws.logs import ensure_log_group
from farflow.aws.session import AwsError, default_region, endpoint_url
from farflow.aws.sqs import ensure_queues
from farflow.objects import fargate_labels
from farflow.plan.config import EXECUTOR_CLASSES, SHARED_KEYS, new_shared_keys
from farflow.plan.model import AwsFacts, EcsFacts

DEFAULT_TASK_SIZE = ("0.25", "512Mi")
T = TypeVar("T")


@dataclass
class Gathered:
    """One pass over the AWS side: facts for the plan (None while it cannot be made yet),
    conditions, identifiers for status, and Secret values to mirror into Kubernetes."""

    facts: AwsFacts | None = None
    conditions: list[Condition] = field(default_factory=list)
    status: AwsStatus = field(default_factory=AwsStatus)
    mirrored: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: list[AwsError] = field(default_factory=list)
    provisioning: bool = False  # something AWS is still creating: look again soon

    def attempt(
        self,
        part: Callable[[], T | None],
        known: T | None = None,
        failure: tuple[ConditionType, str] | None = None,
    ) -> T | None:
        """Runs one part; a failure is recorded and the part's last ``known`` result stands
        in for it. Its condition (``failure``: kind and reason) turns False, unless the
        fault is transient and a known result stands in: then it stays as it was."""
        try:
            return part()
        except AwsError as error:
            self.errors.append(error)
            if failure is not None and (known is None or not error.transient):
                self.report(failure[0], False, failure[1], "see AwsReady")
            return known

    def report(self, kind: ConditionType, ok: bool, reason: str, message: str = "") -> None:
        self.conditions.append(Condition.of(kind, ok, reason, message))


@dataclass(frozen=True)
class Known:
    """What the cluster had before this pass: what status recorded of AWS, the keys the
    Kubernetes Secret holds (if complete), and whether its database was ever migrated."""

    status: AwsStatus = field(default_factory=AwsStatus)
    shared_keys: Mapping[str, str] | None = None
    migrated: bool = False
    profiles_in_use: Collection[str] = ()  # the Fargate profiles the cluster's pods are on


@dataclass(frozen=True)
class _Database:
    state: NamedState | None  # the RDS instance, for status; None for the user's database
    ready: bool  # its URL is in the database Secret


def region_of(cluster: ResolvedCluster) -> str:
    region = cluster.spec.aws.region or default_region()
    if region is None:
        raise AwsError("NoRegion", "set spec.aws.region, or AWS_REGION for the operator")
    return region


def gather(cluster: ResolvedCluster, before: Known | None = None) -> Gathered:
    """Ensures every AWS resource of the spec and reports what the plan needs; ``before``
    (what the last pass recorded in status) stands in for a part that fails."""
    gathered, before = Gathered(), before or Known()
    known = before.status
    region = gathered.attempt(lambda: region_of(cluster))
    key = cluster.spec.aws.kms_key_arn
    # Nothing is made with a key FarFlow may not use: one condition says why.
    if region is None or (key and gathered.attempt(lambda: kms.check_key(region, key)) is None):
        _conclude(gathered)
        return gathered
    queues = gathered.attempt(
        lambda: _queues(gathered, cluster, region),
        _known_queues(cluster, known),
        ("BrokerReady", "QueuesUnavailable"),
    )
    log_group = gathered.attempt(lambda: _log_group(cluster, region), known.log_group_arn)
    database = gathered.attempt(
        lambda: _database(gathered, cluster, region),
        _known_database(known.database),
        ("DatabaseReady", "RdsFailed"),
    )
    admin_secret = gathered.attempt(
        lambda: _admin_password(gathered, cluster, region), known.admin_secret
    )
    keys = gathered.attempt(
        lambda: _shared_keys(gathered, cluster, region, before), before.shared_keys is not None
    )
    bucket = gathered.attempt(lambda: _dag_bucket(cluster, region), cluster.aws_names.dag_bucket)
    profile = gathered.attempt(
        lambda: _fargate_profile(gathered, cluster, region, before.profiles_in_use),
        _known_profile(known.fargate_profile),
        ("FargateProfileReady", "ProfileFailed"),
    )
    ecs_facts = gathered.attempt(
        lambda: _ecs(cluster, region),
        _ecs_facts(cluster, known.ecs_cluster) if known.ecs_cluster else None,
    )
    metrics = gathered.attempt(lambda: _metrics(cluster, region, known), known.metrics)
    pins = gathered.attempt(
        lambda: bootstrap_objects.pins(cluster, region),
        bootstrap_objects.known_pins(cluster, known.bootstrap_objects),
    )
    gathered.status = AwsStatus(
        region=region,
        queue_urls=queues or {},
        log_group_arn=log_group,
        database=database and database.state,
        admin_secret=admin_secret,
        dag_bucket=bucket,
        fargate_profile=profile and NamedState(name=profile.name, status=profile.status),
        ecs_cluster=ecs_facts and ecs_facts.cluster,
        metrics=metrics,
        bootstrap_objects=pins or {},
    )
    database_ready = database is not None and database.ready
    ecs_ready = cluster.spec.ecs is None or ecs_facts is not None
    # Pods made before their Fargate profile is ACTIVE would never be scheduled.
    serving = profile.serving if profile else not cluster.spec.fargate.profile.create
    # Pods that would read an unpinned object as it is when they start wait for its pin.
    ready = database_ready and keys and ecs_ready and serving
    if queues is not None and pins is not None and ready:
        label = profile.pods_label if profile else None
        gathered.facts = AwsFacts(region, queues, log_group, ecs_facts, label, pins)
    _conclude(gathered)
    return gathered


def _conclude(gathered: Gathered) -> None:
    """AwsReady: False with every lasting error; unchanged while only transient ones (which
    status reports in Reconciled) stand in the way."""
    lasting = [error for error in gathered.errors if not error.transient]
    if lasting:
        message = "; ".join(str(error) for error in lasting)
        gathered.report("AwsReady", False, lasting[0].reason, message)
    elif not gathered.errors:
        gathered.report("AwsReady", True, "Provisioned", "every AWS resource is in place")


def _queues(gathered: Gathered, cluster: ResolvedCluster, region: str) -> dict[str, str]:
    names, sqs = cluster.aws_names, cluster.spec.broker.sqs
    urls = ensure_queues(sqs, names.queues, region, names.owner, cluster.spec.aws.kms_key_arn)
    gathered.report("BrokerReady", True, "QueuesReady", f"{len(urls)} SQS queue(s)")
    return urls


def _known_queues(cluster: ResolvedCluster, known: AwsStatus) -> dict[str, str] | None:
    """The queue URLs status recorded, if it has every queue the spec names."""
    wanted = [queue.celery for queue in cluster.aws_names.queues]
    if not all(queue in known.queue_urls for queue in wanted):
        return None
    return {queue: known.queue_urls[queue] for queue in wanted}


def _metrics(cluster: ResolvedCluster, region: str, known: AwsStatus) -> str | None:
    """The dashboard and alarms of spec.metrics; once made, removed when it drops them. A
    cluster that never had them costs no call."""
    if not cluster.spec.metrics.enabled and known.metrics is None:
        return None
    sync_metrics(metrics_target(cluster, region), cluster.spec.metrics)
    return cluster.aws_names.metrics if cluster.spec.metrics.enabled else None


def metrics_target(cluster: ResolvedCluster, region: str) -> Target:
    names = cluster.aws_names
    queues = tuple(queue.sqs for queue in names.queues)
    executors = tuple(
        EXECUTOR_CLASSES[executor].rsplit(".", 1)[-1] for executor in cluster.spec.airflow.executors
    )
    return Target(region, names.owner, names.metrics, queues, executors)


def _log_group(cluster: ResolvedCluster, region: str) -> str | None:
    cloudwatch = cluster.spec.logging.cloudwatch
    if not cloudwatch.enabled:
        return None
    return ensure_log_group(
        cloudwatch.log_group,
        cloudwatch.retention_days,
        region,
        cluster.aws_names.owner,
        cluster.spec.aws.kms_key_arn,
    )


def _database(gathered: Gathered, cluster: ResolvedCluster, region: str) -> _Database:
    """The database, once it can be reached; FarFlow writes its Secret for RDS."""
    wanted, names = cluster.spec.database.rds, cluster.aws_names
    rds_names = names.rds
    if wanted is None or rds_names is None:
        return _Database(None, ready=True)  # the user's Secret; reconcile checks it exists
    identifier = rds_names.instance
    if not may_read(wanted.master_password_secret, names.secret_prefix):
        message = (
            f"database.rds.masterPasswordSecret must be a secret named {names.secret_prefix}..."
            ": secrets outside the cluster's namespace are other teams'"
        )
        gathered.report("DatabaseReady", False, "PasswordSecretNotInNamespace", message)
        return _Database(None, ready=False)
    state = rds.ensure_database(
        region,
        wanted,
        rds_names,
        names.owner,
        names.database_secret_id,
        kms_key=cluster.spec.aws.kms_key_arn,
    )
    status = NamedState(instance=state.arn, status=state.status)
    _database_changes(gathered, identifier, state.changes, wanted.apply_immediately)
    if not state.ready:
        gathered.provisioning = True
        message = f"RDS instance {identifier} is {state.status}"
        gathered.report("DatabaseReady", False, "Provisioning", message)
        return _Database(status, ready=False)
    password = state.secret_id and secrets.read_secret(region, state.secret_id)
    if not password:
        gathered.report("DatabaseReady", False, *_no_password(identifier, state.secret_id))
        return _Database(status, ready=False)
    ref = cluster.database_secret
    gathered.mirrored[ref.name] = {ref.key: rds.connection_url(state, password.value)}
    gathered.report("DatabaseReady", True, "Available", f"RDS instance {identifier}")
    return _Database(status, ready=True)


def may_read(secret: str | None, prefix: str) -> bool:
    """Whether the cluster may name this secret: none, or one under its namespace's prefix
    (by name or by ARN)."""
    name = secret.partition(":secret:")[2] if secret and secret.startswith("arn:") else secret
    return name is None or name.startswith(prefix)


def _no_password(identifier: str, secret_id: str | None) -> tuple[str, str]:
    """Why the URL of an adopted instance cannot be made: no password source, or a gone one."""
    if secret_id is None:
        return "AdoptionNeedsPassword", (
            f"RDS instance {identifier} keeps its master password outside RDS: set "
            "database.rds.masterPasswordSecret to the Secrets Manager secret that holds it"
        )
    return "PasswordSecretNotFound", f"the Secrets Manager secret {secret_id} does not exist"


def _database_changes(
    gathered: Gathered, identifier: str, changes: tuple[str, ...], now: bool
) -> None:
    """DatabaseUpToDate: whether the instance is as the spec says; a change is under way now
    or waits for the maintenance window (it does not hold Ready)."""
    if not changes:
        message = f"RDS instance {identifier} is as the spec says"
        gathered.report("DatabaseUpToDate", True, "UpToDate", message)
        return
    fields = ", ".join(changes)
    if now:
        gathered.report("DatabaseUpToDate", False, "Modifying", f"RDS applies {fields} now")
    else:
        message = f"{fields} will change in the next maintenance window (or set applyImmediately)"
        gathered.report("DatabaseUpToDate", False, "PendingMaintenance", message)


def _known_database(known: NamedState | None) -> _Database | None:
    """The RDS instance as status recorded it: its Secret already holds its URL."""
    if known is None:
        return None
    return _Database(known, ready=known.status in rds.USABLE)


def _admin_password(gathered: Gathered, cluster: ResolvedCluster, region: str) -> str | None:
    """A generated admin password lives in Secrets Manager; the Kubernetes Secret mirrors it.
    Returns the secret's ARN."""
    if cluster.spec.admin.password_secret_ref is not None:
        return None
    names = cluster.aws_names
    stored = secrets.ensure_secret(
        region,
        names.admin_secret_id,
        secrets.generate_password,
        names.owner,
        cluster.spec.aws.kms_key_arn,
    )
    gathered.mirrored[cluster.names.admin_secret] = {"password": stored.value}
    return stored.arn


def _shared_keys(gathered: Gathered, cluster: ResolvedCluster, region: str, before: Known) -> bool:
    """The Fernet key, JWT secret and API secret key every component shares, kept in
    Secrets Manager and mirrored into the Kubernetes Secret: a deleted Secret comes back
    with the same keys. Keys a cluster already has are kept there first; new ones are made
    only for a database never migrated, since encrypted connections and task tokens need the
    old ones. True once the keys are in place."""
    names = cluster.aws_names
    stored = secrets.read_secret(region, names.keys_secret_id)
    if stored is None:
        if before.shared_keys is None and before.migrated:
            message = (
                f"the keys this cluster's database was used with are in neither the Secret "
                f"{cluster.names.secrets} nor the Secrets Manager secret {names.keys_secret_id}: "
                f"restore either (keys {', '.join(SHARED_KEYS)}); FarFlow makes no new ones"
            )
            gathered.report("DatabaseReady", False, "SharedKeysLost", message)
            return False
        keys = dict(before.shared_keys or new_shared_keys())
        stored = secrets.ensure_secret(
            region,
            names.keys_secret_id,
            lambda: json.dumps(keys),
            names.owner,
            cluster.spec.aws.kms_key_arn,
        )
    gathered.mirrored[cluster.names.secrets] = _parsed_keys(stored.value, names.keys_secret_id)
    return True


def _parsed_keys(text: str, secret_id: str) -> dict[str, str]:
    try:
        keys = json.loads(text)
    except ValueError:
        keys = None
    if not isinstance(keys, dict) or not all(isinstance(keys.get(k), str) for k in SHARED_KEYS):
        raise AwsError(
            "SharedKeysInvalid",
            f"the Secrets Manager secret {secret_id} must be a JSON object with the keys "
            + ", ".join(SHARED_KEYS),
        )
    return {key: keys[key] for key in SHARED_KEYS}


def _dag_bucket(cluster: ResolvedCluster, region: str) -> str | None:
    dags, bucket = cluster.spec.dags.s3, cluster.aws_names.dag_bucket
    if dags is None or bucket is None or not dags.create:
        return bucket
    owner, key = cluster.aws_names.owner, cluster.spec.aws.kms_key_arn
    return s3.ensure_dag_bucket(region, bucket, owner, key).name


def _profile_selectors(cluster: ResolvedCluster) -> list[eks.Selector]:
    """The cluster's own namespace and its task namespace, its pods only."""
    labels = fargate_labels(cluster.namespace, cluster.name)
    return [(ns, labels) for ns in sorted({cluster.namespace, cluster.spec.pods.namespace})]


def _fargate_profile(
    gathered: Gathered, cluster: ResolvedCluster, region: str, in_use: Collection[str]
) -> eks.FargateProfileState | None:
    spec, names = cluster.spec, cluster.aws_names
    if not spec.fargate.profile.create:
        gathered.report(
            "FargateProfileReady",
            True,
            "ExistingProfile",
            "pods carry farflow.io/fargate=true for an existing Fargate profile",
        )
        return None
    state = eks.ensure_fargate_profile(
        region,
        spec.fargate.cluster_name or "",
        names.fargate_profile,
        pod_execution_role_arn=spec.fargate.profile.pod_execution_role_arn or "",
        subnets=spec.fargate.profile.subnets,
        selectors=_profile_selectors(cluster),
        owner=names.owner,
        in_use=in_use,
    )
    ready = state.status == eks.ACTIVE
    gathered.provisioning |= not ready
    gathered.report(
        "FargateProfileReady",
        ready,
        "Active" if ready else "Provisioning",
        f"Fargate profile {state.name}: {state.status}",
    )
    return state


def _known_profile(known: NamedState | None) -> eks.FargateProfileState | None:
    """The profile as status recorded it: its pods keep running through it while ACTIVE."""
    if known is None or known.name is None:
        return None
    active = known.status == eks.ACTIVE
    label = eks.profile_label(known.name)
    return eks.FargateProfileState(known.name, None, known.status, (), label, active)


def _ecs(cluster: ResolvedCluster, region: str) -> EcsFacts | None:
    wanted, names = cluster.spec.ecs, cluster.aws_names.ecs
    if wanted is None or names is None:
        return None
    owner = cluster.aws_names.owner
    found = (
        ecs.ensure_ecs_cluster(region, names.cluster, owner)
        if wanted.cluster.create
        else ecs.describe_ecs_cluster(region, names.cluster)
    )
    _register_task_definitions(cluster, wanted, names, region)
    return _ecs_facts(cluster, found.arn)


def _ecs_facts(cluster: ResolvedCluster, cluster_arn: str) -> EcsFacts | None:
    """Where ECS tasks run: the ECS cluster ``cluster_arn``, and the task definitions by
    family (ECS runs a family's latest revision, so a new revision changes no setting)."""
    wanted, names = cluster.spec.ecs, cluster.aws_names.ecs
    if wanted is None or names is None:
        return None
    executor = names.executor_family if "Ecs" in cluster.spec.airflow.executors else None
    return EcsFacts(
        cluster=cluster_arn,
        network_configuration=ecs.network_configuration(
            wanted.subnets, wanted.security_group_ids, wanted.assign_public_ip
        ),
        executor_task_definition=executor,
        task_definition=names.task_family if wanted.task_image else None,
        container_name=ecs.CONTAINER,
        log_group=_task_log_group(cluster),
        log_stream_prefix=ecs.LOG_STREAM_PREFIX,
    )


def _task_log_group(cluster: ResolvedCluster) -> str | None:
    """The awslogs group of the task definitions: none when CloudWatch is off, as the group
    then does not exist and ECS would refuse to start a task that names it."""
    cloudwatch = cluster.spec.logging.cloudwatch
    return cloudwatch.log_group if cloudwatch.enabled else None


def _register_task_definitions(
    cluster: ResolvedCluster, wanted: EcsSpec, names: EcsNames, region: str
) -> None:
    """The DAGs' task definition (spec.ecs.taskImage); the Ecs executor's is registered once
    the plan exists (farflow.ecs_executor)."""
    if wanted.task_image:
        register = TaskDefinitions.of(cluster, wanted, region)
        register(names.task_family, wanted.task_image, wanted.task_resources)


@dataclass(frozen=True)
class TaskDefinitions:
    """Registers the cluster's task definitions, a new revision only when one changed."""

    wanted: EcsSpec
    region: str
    owner: str
    log_group: str | None

    @classmethod
    def of(cls, cluster: ResolvedCluster, wanted: EcsSpec, region: str) -> TaskDefinitions:
        return cls(wanted, region, cluster.aws_names.owner, _task_log_group(cluster))

    def __call__(
        self,
        family: str,
        image: str,
        size: Resources | None,
        *,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        entry_point: Sequence[str] = (),
    ) -> None:
        cpu, memory = (size.cpu, size.memory) if size else DEFAULT_TASK_SIZE
        ecs.register_task_definition(
            self.region,
            family,
            image=image,
            cpu=cpu,
            memory=memory,
            execution_role_arn=self.wanted.execution_role_arn,
            task_role_arn=self.wanted.task_role_arn,
            log_group=self.log_group,
            owner=self.owner,
            environment=environment,
            secrets=secrets,
            entry_point=entry_point,
        )


def offline(cluster: ResolvedCluster, account_id: str) -> AwsFacts:
    """The facts `gather` would report, derived without calling AWS (for `farflow render`)."""
    region = region_of(cluster)
    cloudwatch = cluster.spec.logging.cloudwatch
    log_group_arn = None
    if cloudwatch.enabled:
        log_group_arn = f"arn:aws:logs:{region}:{account_id}:log-group:{cloudwatch.log_group}"
    sqs = endpoint_url("sqs", region)
    ecs_cluster = cluster.aws_names.ecs and cluster.aws_names.ecs.cluster
    return AwsFacts(
        ecs=_ecs_facts(cluster, f"arn:aws:ecs:{region}:{account_id}:cluster/{ecs_cluster}"),
        region=region,
        queue_urls={
            queue.celery: f"{sqs}/{account_id}/{queue.sqs}" for queue in cluster.aws_names.queues
        },
        log_group_arn=log_group_arn,
        fargate_profile_label=_offline_profile_label(cluster),
    )


def _offline_profile_label(cluster: ResolvedCluster) -> str | None:
    """The label of the profile FarFlow makes, as gather reports it once the profile is
    ACTIVE."""
    profile = cluster.spec.fargate.profile
    if not profile.create:
        return None
    name = eks.configured_name(
        cluster.aws_names.fargate_profile,
        cluster.aws_names.owner,
        profile.pod_execution_role_arn or "",
        profile.subnets,
        _profile_selectors(cluster),
    )
    return eks.profile_label(name)
