"""What the operator ensures in AWS before planning a cluster, and what it learns there.

Each part (queues, logs, database, admin password, DAG bucket, Fargate profile, ECS) runs on
its own: one failing part is reported and the others still go ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TypeVar

from farflow.api.names import EcsNames
from farflow.api.resolve import ResolvedCluster
from farflow.api.spec import EcsSpec, Resources
from farflow.api.status import AwsStatus, Condition, ConditionType, NamedState
from farflow.aws import ecs, eks, kms, rds, s3, secrets
from farflow.aws.logs import ensure_log_group
from farflow.aws.session import AwsError, default_region, endpoint_url
from farflow.aws.sqs import ensure_queues
from farflow.objects import fargate_labels
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

    def attempt(self, part: Callable[[], T]) -> T | None:
        """Runs one part; a failure is recorded and the other parts go on."""
        try:
            return part()
        except AwsError as error:
            self.errors.append(error)
            return None

    def report(self, kind: ConditionType, ok: bool, reason: str, message: str = "") -> None:
        self.conditions.append(Condition.of(kind, ok, reason, message))


def region_of(cluster: ResolvedCluster) -> str:
    region = cluster.spec.aws.region or default_region()
    if region is None:
        raise AwsError("NoRegion", "set spec.aws.region, or AWS_REGION for the operator")
    return region


def gather(cluster: ResolvedCluster, profiles_in_use: Collection[str] = ()) -> Gathered:
    """Ensures every AWS resource of the spec and reports what the plan needs;
    ``profiles_in_use``: the Fargate profiles the cluster's pods are on (none is deleted)."""
    gathered = Gathered()
    region = gathered.attempt(lambda: region_of(cluster))
    key = cluster.spec.aws.kms_key_arn
    # Nothing is made with a key FarFlow may not use: one condition says why.
    if region is None or (key and gathered.attempt(lambda: kms.check_key(region, key)) is None):
        _conclude(gathered)
        return gathered
    names, spec = cluster.aws_names, cluster.spec
    queues = gathered.attempt(
        lambda: ensure_queues(spec.broker.sqs, names.queues, region, names.owner, key)
    )
    log_group = gathered.attempt(lambda: _log_group(cluster, region))
    database_ready, database = _database(gathered, cluster, region)
    admin_secret = _admin_password(gathered, cluster, region)
    bucket = gathered.attempt(lambda: _dag_bucket(cluster, region))
    profile = _fargate_profile(gathered, cluster, region, profiles_in_use)
    ecs_facts = gathered.attempt(lambda: _ecs(cluster, region))
    _broker_condition(gathered, queues)
    gathered.status = AwsStatus(
        region=region,
        queue_urls=queues or {},
        log_group_arn=log_group,
        database=database,
        admin_secret=admin_secret,
        dag_bucket=bucket,
        fargate_profile=profile and NamedState(name=profile.name, status=profile.status),
        ecs_cluster=ecs_facts and ecs_facts.cluster,
    )
    # Pods made before their Fargate profile is ACTIVE would never be scheduled.
    serving = profile.serving if profile else not spec.fargate.profile.create
    if queues is not None and database_ready and serving and (spec.ecs is None or ecs_facts):
        label = profile.pods_label if profile else None
        gathered.facts = AwsFacts(region, queues, log_group, ecs_facts, label)
    _conclude(gathered)
    return gathered


def _conclude(gathered: Gathered) -> None:
    if gathered.errors:
        first = gathered.errors[0]
        message = "; ".join(str(error) for error in gathered.errors)
        gathered.report("AwsReady", False, first.reason, message)
    else:
        gathered.report("AwsReady", True, "Provisioned", "every AWS resource is in place")


def _broker_condition(gathered: Gathered, queues: dict[str, str] | None) -> None:
    if queues is None:
        message = "the SQS queues could not be ensured: see AwsReady"
        gathered.report("BrokerReady", False, "QueuesUnavailable", message)
    else:
        gathered.report("BrokerReady", True, "QueuesReady", f"{len(queues)} SQS queue(s)")


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


def _database(
    gathered: Gathered, cluster: ResolvedCluster, region: str
) -> tuple[bool, NamedState | None]:
    """Whether the database can be reached (FarFlow writes its Secret for RDS), and the RDS
    instance's state for status."""
    wanted, names = cluster.spec.database.rds, cluster.aws_names
    rds_names = names.rds
    if wanted is None or rds_names is None:
        return True, None  # the user's Secret; reconcile checks it exists
    identifier = rds_names.instance
    state = gathered.attempt(
        lambda: rds.ensure_database(
            region,
            wanted,
            rds_names,
            names.owner,
            names.database_secret_id,
            kms_key=cluster.spec.aws.kms_key_arn,
        )
    )
    if state is None:
        gathered.report("DatabaseReady", False, "RdsFailed", "see AwsReady")
        return False, None
    status = NamedState(instance=state.arn, status=state.status)
    password = state.secret_id and gathered.attempt(
        lambda: secrets.read_secret(region, state.secret_id or "")
    )
    if not state.ready or not password:
        gathered.provisioning = True
        message = f"RDS instance {identifier} is {state.status}"
        gathered.report("DatabaseReady", False, "Provisioning", message)
        return False, status
    ref = cluster.database_secret
    gathered.mirrored[ref.name] = {ref.key: rds.connection_url(state, password.value)}
    gathered.report("DatabaseReady", True, "Available", f"RDS instance {identifier}")
    return True, status


def _admin_password(gathered: Gathered, cluster: ResolvedCluster, region: str) -> str | None:
    """A generated admin password lives in Secrets Manager; the Kubernetes Secret mirrors it.
    Returns the secret's ARN."""
    if cluster.spec.admin.password_secret_ref is not None:
        return None
    names = cluster.aws_names
    stored = gathered.attempt(
        lambda: secrets.ensure_secret(
            region,
            names.admin_secret_id,
            secrets.generate_password,
            names.owner,
            cluster.spec.aws.kms_key_arn,
        )
    )
    if stored is None:
        return None
    gathered.mirrored[cluster.names.admin_secret] = {"password": stored.value}
    return stored.arn


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
    state = gathered.attempt(
        lambda: eks.ensure_fargate_profile(
            region,
            spec.fargate.cluster_name or "",
            names.fargate_profile,
            pod_execution_role_arn=spec.fargate.profile.pod_execution_role_arn or "",
            subnets=spec.fargate.profile.subnets,
            selectors=_profile_selectors(cluster),
            owner=names.owner,
            in_use=in_use,
        )
    )
    if state is None:
        gathered.report("FargateProfileReady", False, "ProfileFailed", "see AwsReady")
        return None
    ready = state.status == eks.ACTIVE
    gathered.provisioning |= not ready
    gathered.report(
        "FargateProfileReady",
        ready,
        "Active" if ready else "Provisioning",
        f"Fargate profile {state.name}: {state.status}",
    )
    return state


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
    executor, task = _task_definitions(cluster, wanted, names, region)
    return EcsFacts(
        found.arn,
        _network(wanted),
        executor,
        task,
        ecs.CONTAINER,
        log_group=_task_log_group(cluster),
        log_stream_prefix=ecs.LOG_STREAM_PREFIX,
    )


def _network(wanted: EcsSpec) -> dict[str, dict[str, object]]:
    return ecs.network_configuration(
        wanted.subnets, wanted.security_group_ids, wanted.assign_public_ip
    )


def _task_log_group(cluster: ResolvedCluster) -> str | None:
    """The awslogs group of the task definitions: none when CloudWatch is off, as the group
    then does not exist and ECS would refuse to start a task that names it."""
    cloudwatch = cluster.spec.logging.cloudwatch
    return cloudwatch.log_group if cloudwatch.enabled else None


def _task_definitions(
    cluster: ResolvedCluster, wanted: EcsSpec, names: EcsNames, region: str
) -> tuple[str | None, str | None]:
    """The Ecs executor's (the Airflow image) and the DAGs' (spec.ecs.taskImage)."""
    spec = cluster.spec
    executor = task = None
    register = _TaskDefinitions(wanted, region, cluster.aws_names.owner, _task_log_group(cluster))
    if "Ecs" in spec.airflow.executors:
        image = spec.airflow.image.reference
        executor = register(names.executor_family, image, spec.workers.resources)
    if wanted.task_image:
        task = register(names.task_family, wanted.task_image, wanted.task_resources)
    return executor, task


@dataclass(frozen=True)
class _TaskDefinitions:
    """Registers the cluster's task definitions; returns each one's ARN."""

    wanted: EcsSpec
    region: str
    owner: str
    log_group: str | None

    def __call__(self, family: str, image: str, size: Resources | None) -> str:
        """The family, whose latest revision is this task definition: ECS runs the latest
        ACTIVE revision of a family, so a new revision changes no Airflow setting."""
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
        )
        return family


def offline(cluster: ResolvedCluster, account_id: str) -> AwsFacts:
    """The facts `gather` would report, derived without calling AWS (for `farflow render`)."""
    region = region_of(cluster)
    cloudwatch = cluster.spec.logging.cloudwatch
    log_group_arn = None
    if cloudwatch.enabled:
        log_group_arn = f"arn:aws:logs:{region}:{account_id}:log-group:{cloudwatch.log_group}"
    sqs = endpoint_url("sqs", region)
    return AwsFacts(
        ecs=_offline_ecs(cluster, region, account_id),
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


def _offline_ecs(cluster: ResolvedCluster, region: str, account_id: str) -> EcsFacts | None:
    wanted, names = cluster.spec.ecs, cluster.aws_names.ecs
    if wanted is None or names is None:
        return None
    executor = names.executor_family if "Ecs" in cluster.spec.airflow.executors else None
    return EcsFacts(
        cluster=f"arn:aws:ecs:{region}:{account_id}:cluster/{names.cluster}",
        network_configuration=_network(wanted),
        executor_task_definition=executor,
        task_definition=names.task_family if wanted.task_image else None,
        log_group=_task_log_group(cluster),
        log_stream_prefix=ecs.LOG_STREAM_PREFIX,
    )
