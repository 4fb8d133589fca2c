"""What the operator ensures in AWS before planning a cluster, and what it learns there.

Each part (queues, logs, database, admin password, DAG bucket, Fargate profile, ECS) runs on
its own: one failing part is reported and the others still go ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from farflow.api import AirflowCluster
from farflow.api.spec import AirflowClusterSpec, EcsSpec, Resources
from farflow.api.status import ConditionType
from farflow.aws import ecs, eks, rds, s3, secrets
from farflow.aws.logs import ensure_log_group
from farflow.aws.session import AwsError, default_region, owner_tag, resource_name
from farflow.aws.sqs import ensure_queues, queue_names
from farflow.plan.model import FARGATE_LABELS, AwsFacts, EcsFacts, SecretRef

DEFAULT_TASK_SIZE = ("0.25", "512Mi")
T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """Where a cluster's AWS resources live and how they are named and tagged."""

    region: str
    namespace: str
    name: str
    log_group: str

    @property
    def owner(self) -> str:
        return owner_tag(self.namespace, self.name)

    def named(self, suffix: str = "", limit: int = 80) -> str:
        return resource_name(self.namespace, self.name, suffix, limit)

    @classmethod
    def of(cls, cluster: AirflowCluster, spec: AirflowClusterSpec, region: str) -> Target:
        """The target of a resolved spec (`farflow.api.resolve` names the log group)."""
        log_group = spec.logging.cloudwatch.log_group
        if log_group is None:
            raise ValueError("the spec must be resolved first (farflow.api.resolve)")
        return cls(region, cluster.metadata.namespace, cluster.metadata.name, log_group)

    def secret_id(self, purpose: str) -> str:
        return f"airflow/{self.namespace}/{self.name}/{purpose}"


@dataclass
class Gathered:
    """One pass over the AWS side: facts for the plan (None while it cannot be made yet),
    conditions, identifiers for status, and Secret values to mirror into Kubernetes."""

    facts: AwsFacts | None = None
    conditions: dict[ConditionType, tuple[bool, str, str]] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
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


def region_of(spec: AirflowClusterSpec) -> str:
    region = spec.aws.region or default_region()
    if region is None:
        raise AwsError("NoRegion", "set spec.aws.region, or AWS_REGION for the operator")
    return region


def database_secret(cluster: AirflowCluster, spec: AirflowClusterSpec) -> SecretRef:
    """The Secret key with the database URL: the user's, or the one FarFlow writes for RDS."""
    ref = spec.database.connection_secret_ref
    if ref is None:
        return SecretRef(f"{cluster.metadata.name}-database", "connection")
    return SecretRef(ref.name, ref.key)


def creates_aws(spec: AirflowClusterSpec) -> bool:
    """Whether FarFlow creates anything in AWS for this spec (then deletion must clean up)."""
    return any(
        (
            spec.broker.sqs.create,
            spec.logging.cloudwatch.enabled,
            spec.database.rds is not None and spec.database.rds.create,
            spec.admin.password_secret_ref is None,
            spec.dags.s3 is not None and spec.dags.s3.create,
            spec.fargate.profile.create,
            spec.ecs is not None,  # task definitions, and the cluster with cluster.create
        )
    )


def gather(cluster: AirflowCluster, spec: AirflowClusterSpec) -> Gathered:
    """Ensures every AWS resource of the spec and reports what the plan needs."""
    meta = cluster.metadata
    gathered = Gathered()
    region = gathered.attempt(lambda: region_of(spec))
    if region is None:
        _conclude(gathered)
        return gathered
    target = Target.of(cluster, spec, region)
    names = queue_names(spec.broker.sqs, spec.workers.queues, meta.namespace, meta.name)
    queues = gathered.attempt(lambda: ensure_queues(spec.broker.sqs, names, region, target.owner))
    log_group = gathered.attempt(lambda: _log_group(spec, target))
    database = _database(gathered, cluster, spec, target)
    _admin_password(gathered, spec, target)
    bucket = gathered.attempt(lambda: _dag_bucket(spec, target))
    _fargate_profile(gathered, spec, target)
    ecs_facts = gathered.attempt(lambda: _ecs(spec, target))
    gathered.conditions["BrokerReady"] = _broker_condition(queues)
    gathered.resources.update(region=region, queueUrls=queues or {}, logGroupArn=log_group)
    gathered.resources.update(dagBucket=bucket, ecsCluster=ecs_facts and ecs_facts.cluster)
    if queues is not None and database is not None and (spec.ecs is None or ecs_facts):
        gathered.facts = AwsFacts(region, queues, database, log_group, bucket, ecs_facts)
    _conclude(gathered)
    return gathered


def _conclude(gathered: Gathered) -> None:
    if gathered.errors:
        first = gathered.errors[0]
        message = "; ".join(str(error) for error in gathered.errors)
        gathered.conditions["AwsReady"] = (False, first.reason, message)
    else:
        gathered.conditions["AwsReady"] = (True, "Provisioned", "every AWS resource is in place")


def _broker_condition(queues: dict[str, str] | None) -> tuple[bool, str, str]:
    if queues is None:
        return (False, "QueuesUnavailable", "the SQS queues could not be ensured: see AwsReady")
    return (True, "QueuesReady", f"{len(queues)} SQS queue(s)")


def _log_group(spec: AirflowClusterSpec, target: Target) -> str | None:
    cloudwatch = spec.logging.cloudwatch
    if not cloudwatch.enabled or not cloudwatch.log_group:
        return None
    return ensure_log_group(
        cloudwatch.log_group, cloudwatch.retention_days, target.region, target.owner
    )


def _database(
    gathered: Gathered, cluster: AirflowCluster, spec: AirflowClusterSpec, target: Target
) -> SecretRef | None:
    """The database Secret once the database can be reached; FarFlow writes it for RDS."""
    wanted = spec.database.rds
    ref = database_secret(cluster, spec)
    if wanted is None:
        return ref  # the user's Secret; reconcile checks it exists
    identifier = wanted.instance_identifier or rds.instance_identifier(
        target.namespace, target.name
    )
    state = gathered.attempt(
        lambda: rds.ensure_database(
            target.region, wanted, identifier, target.owner, target.secret_id("database")
        )
    )
    if state is None:
        gathered.conditions["DatabaseReady"] = (False, "RdsFailed", "see AwsReady")
        return None
    gathered.resources["database"] = {"instance": state.arn, "status": state.status}
    password = state.secret_id and gathered.attempt(
        lambda: secrets.read_secret(target.region, state.secret_id or "")
    )
    if not state.ready or not password:
        gathered.provisioning = True
        message = f"RDS instance {identifier} is {state.status}"
        gathered.conditions["DatabaseReady"] = (False, "Provisioning", message)
        return None
    gathered.mirrored[ref.name] = {ref.key: rds.connection_url(state, password.value)}
    gathered.conditions["DatabaseReady"] = (True, "Available", f"RDS instance {identifier}")
    return ref


def _admin_password(gathered: Gathered, spec: AirflowClusterSpec, target: Target) -> None:
    """A generated admin password lives in Secrets Manager; the Kubernetes Secret mirrors it."""
    if spec.admin.password_secret_ref is not None:
        return
    stored = gathered.attempt(
        lambda: secrets.ensure_secret(
            target.region, target.secret_id("admin"), secrets.generate_password, target.owner
        )
    )
    if stored is not None:
        gathered.mirrored[f"{target.name}-admin"] = {"password": stored.value}
        gathered.resources["adminSecret"] = stored.arn


def _dag_bucket(spec: AirflowClusterSpec, target: Target) -> str | None:
    dags = spec.dags.s3
    if dags is None:
        return None
    if not dags.create:
        return dags.bucket
    bucket = dags.bucket or s3.bucket_name(target.namespace, target.name)
    return s3.ensure_dag_bucket(target.region, bucket, target.owner).name


def _fargate_profile(gathered: Gathered, spec: AirflowClusterSpec, target: Target) -> None:
    profile = spec.fargate.profile
    if not profile.create:
        gathered.conditions["FargateProfileReady"] = (
            True,
            "ExistingProfile",
            "pods carry farflow.io/fargate=true for an existing Fargate profile",
        )
        return
    namespaces = sorted({target.namespace, spec.pods.namespace or target.namespace})
    state = gathered.attempt(
        lambda: eks.ensure_fargate_profile(
            target.region,
            spec.fargate.cluster_name or "",
            profile.name or target.named(limit=100),
            pod_execution_role_arn=profile.pod_execution_role_arn or "",
            subnets=profile.subnets,
            selectors=[(namespace, FARGATE_LABELS) for namespace in namespaces],
            owner=target.owner,
        )
    )
    if state is None:
        gathered.conditions["FargateProfileReady"] = (False, "ProfileFailed", "see AwsReady")
        return
    gathered.resources["fargateProfile"] = {"name": state.name, "status": state.status}
    ready = state.status == eks.ACTIVE
    gathered.provisioning |= not ready
    gathered.conditions["FargateProfileReady"] = (
        ready,
        "Active" if ready else "Provisioning",
        f"Fargate profile {state.name}: {state.status}",
    )


def _ecs(spec: AirflowClusterSpec, target: Target) -> EcsFacts | None:
    if spec.ecs is None:
        return None
    wanted = spec.ecs
    name = wanted.cluster.name or target.named()
    cluster = (
        ecs.ensure_ecs_cluster(target.region, name, target.owner)
        if wanted.cluster.create
        else ecs.describe_ecs_cluster(target.region, name)
    )
    network = ecs.network_configuration(
        wanted.subnets, wanted.security_group_ids, wanted.assign_public_ip
    )
    executor, task = _task_definitions(spec, wanted, target)
    return EcsFacts(
        cluster.arn,
        network,
        executor,
        task,
        ecs.CONTAINER,
        log_group=_task_log_group(spec),
        log_stream_prefix=ecs.LOG_STREAM_PREFIX,
    )


def _task_log_group(spec: AirflowClusterSpec) -> str | None:
    """The awslogs group of the task definitions: none when CloudWatch is off, as the group
    then does not exist and ECS would refuse to start a task that names it."""
    cloudwatch = spec.logging.cloudwatch
    return cloudwatch.log_group if cloudwatch.enabled else None


def _task_definitions(
    spec: AirflowClusterSpec, wanted: EcsSpec, target: Target
) -> tuple[str | None, str | None]:
    """The Ecs executor's (the Airflow image) and the DAGs' (spec.ecs.taskImage)."""
    executor = task = None
    logs = _task_log_group(spec)
    if "Ecs" in spec.airflow.executors:
        image = f"{spec.airflow.image.repository}:{spec.airflow.image.tag}"
        executor = _task_definition(
            wanted, target, "-executor", image, spec.workers.resources, log_group=logs
        )
    if wanted.task_image:
        task = _task_definition(
            wanted, target, "-task", wanted.task_image, wanted.task_resources, log_group=logs
        )
    return executor, task


def _task_definition(
    wanted: EcsSpec,
    target: Target,
    suffix: str,
    image: str,
    size: Resources | None,
    *,
    log_group: str | None,
) -> str:
    cpu, memory = (size.cpu, size.memory) if size else DEFAULT_TASK_SIZE
    state = ecs.register_task_definition(
        target.region,
        target.named(suffix, limit=255),
        image=image,
        cpu=cpu,
        memory=memory,
        execution_role_arn=wanted.execution_role_arn,
        task_role_arn=wanted.task_role_arn,
        log_group=log_group,
        owner=target.owner,
    )
    return state.arn


def offline(cluster: AirflowCluster, spec: AirflowClusterSpec, account_id: str) -> AwsFacts:
    """The facts `gather` would report, derived without calling AWS (for `farflow render`)."""
    meta = cluster.metadata
    region = region_of(spec)
    names = queue_names(spec.broker.sqs, spec.workers.queues, meta.namespace, meta.name)
    cloudwatch = spec.logging.cloudwatch
    log_group_arn = None
    if cloudwatch.enabled and cloudwatch.log_group:
        log_group_arn = f"arn:aws:logs:{region}:{account_id}:log-group:{cloudwatch.log_group}"
    bucket = None
    if spec.dags.s3 is not None:
        bucket = spec.dags.s3.bucket or s3.bucket_name(meta.namespace, meta.name)
    return AwsFacts(
        ecs=_offline_ecs(spec, meta.namespace, meta.name, region, account_id),
        region=region,
        queue_urls={
            queue: f"https://sqs.{region}.amazonaws.com/{account_id}/{sqs_name}"
            for queue, sqs_name in names.items()
        },
        database_secret=database_secret(cluster, spec),
        log_group_arn=log_group_arn,
        dag_bucket=bucket,
    )


def _offline_ecs(
    spec: AirflowClusterSpec, namespace: str, name: str, region: str, account_id: str
) -> EcsFacts | None:
    if spec.ecs is None:
        return None
    prefix = f"arn:aws:ecs:{region}:{account_id}"
    cluster = spec.ecs.cluster.name or resource_name(namespace, name)
    family = resource_name(namespace, name, "-executor", 255)
    task = resource_name(namespace, name, "-task", 255) if spec.ecs.task_image else None
    network = ecs.network_configuration(
        spec.ecs.subnets, spec.ecs.security_group_ids, spec.ecs.assign_public_ip
    )
    return EcsFacts(
        cluster=f"{prefix}:cluster/{cluster}",
        network_configuration=network,
        executor_task_definition=f"{prefix}:task-definition/{family}"
        if "Ecs" in spec.airflow.executors
        else None,
        task_definition=task and f"{prefix}:task-definition/{task}",
        log_group=_task_log_group(spec),
        log_stream_prefix=ecs.LOG_STREAM_PREFIX,
    )
