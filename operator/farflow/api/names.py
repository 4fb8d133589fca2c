"""Every name FarFlow derives for a cluster, in Kubernetes and in AWS, in one place.

Names are pure functions of the cluster's namespace, name and spec, so the operator, its
cleanup and `farflow render` always agree on them. AWS names are deterministic
(`farflow-<namespace>-<name>...`), hash-shortened where AWS limits their length.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from farflow.api.spec import AirflowClusterSpec

_QUEUE_NAME_LIMIT = 80
_DLQ_SUFFIX = "-dlq"


@dataclass(frozen=True)
class SecretRef:
    """A key of a Kubernetes Secret."""

    name: str
    key: str


def resource_name(namespace: str, name: str, suffix: str = "", limit: int = 80) -> str:
    """A deterministic AWS name for a cluster's resource, shortened with a hash to fit."""
    return _fitted(f"farflow-{namespace}-{name}", suffix, limit)


def _fitted(base: str, suffix: str, limit: int) -> str:
    """``base + suffix``, or when longer than ``limit`` a prefix of base, a hash of the whole
    and the suffix, so distinct long names stay distinct."""
    full = f"{base}{suffix}"
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: limit - len(suffix) - 9]}-{digest}{suffix}"


def dead_letter_queue_name(sqs_name: str) -> str:
    """The dead-letter queue of a queue: its name plus -dlq, hash-shortened to fit SQS."""
    return _fitted(sqs_name, _DLQ_SUFFIX, _QUEUE_NAME_LIMIT)


def bucket_name(namespace: str, name: str) -> str:
    """The default bucket name: farflow-<namespace>-<name>, without dots (they break TLS)."""
    return resource_name(namespace, name.replace(".", "-"), limit=63).lower()


def instance_identifier(namespace: str, name: str) -> str:
    """The default RDS identifier: farflow-<namespace>-<name>, as RDS allows (63 characters,
    letters, digits and single hyphens)."""
    return re.sub("-+", "-", resource_name(namespace, name.replace(".", "-"), limit=63)).lower()


WORKER = "worker"  # the default worker pool's component
_POOL_PREFIX = f"{WORKER}-"  # a named pool's component is worker-<name>


def pool_component(pool: str) -> str:
    """The component (and Deployment suffix) of the named worker pool ``pool``."""
    return _POOL_PREFIX + pool


def named_pool(component: str) -> str | None:
    """The named worker pool ``component`` is, or None for any other component."""
    return component.removeprefix(_POOL_PREFIX) if component.startswith(_POOL_PREFIX) else None


@dataclass(frozen=True)
class KubeNames:
    """Names of the Kubernetes objects of one AirflowCluster."""

    cluster: str
    namespace: str

    def of(self, component: str) -> str:
        return f"{self.cluster}-{component}"

    def in_task_namespace(self, task_namespace: str, suffix: str) -> str:
        """The name of an object in the task namespace. Another namespace's clusters may
        share it, some with this cluster's name, so there the name carries the namespace
        too (a namespace has no dots: namespace.name-suffix is unambiguous)."""
        if task_namespace == self.namespace:
            return self.of(suffix)
        return f"{self.namespace}.{self.cluster}-{suffix}"

    @property
    def service(self) -> str:
        return self.of("api-server")

    @property
    def config_map(self) -> str:
        return self.of("airflow-config")

    @property
    def pod_template(self) -> str:
        return self.of("pod-template")

    @property
    def runtime(self) -> str:
        """The ConfigMap of farflow.runtime's modules, mounted into every Airflow pod."""
        return self.of("runtime")

    @property
    def secrets(self) -> str:
        return self.of("airflow-secrets")

    @property
    def admin_secret(self) -> str:
        return self.of("admin")

    @property
    def database_secret(self) -> str:
        """The Secret FarFlow writes the RDS database URL into."""
        return self.of("database")


@dataclass(frozen=True)
class QueueNames:
    """One Celery queue's SQS queue and its dead-letter queue."""

    celery: str
    sqs: str
    dead_letter: str


@dataclass(frozen=True)
class RdsNames:
    """The RDS instance and what FarFlow creates beside it."""

    instance: str
    subnet_group: str
    final_snapshot: str


@dataclass(frozen=True)
class EcsNames:
    """The ECS cluster and the task definition families FarFlow registers."""

    cluster: str
    executor_family: str  # the Airflow image, for the Ecs executor
    task_family: str  # spec.ecs.taskImage, for EcsRunTaskOperator DAGs


@dataclass(frozen=True)
class AwsNames:
    """Names of the cluster's AWS resources; None where the spec has no such resource."""

    owner: str  # the value of the farflow.io/cluster tag on everything FarFlow creates
    queues: tuple[QueueNames, ...]
    log_group: str
    fargate_profile: str  # the base name; eks.py appends a hash of the configuration
    admin_secret_id: str
    database_secret_id: str
    keys_secret_id: str  # the keys every Airflow component shares
    secret_prefix: str  # the Secrets Manager names this cluster's namespace may use
    executor_secret_id: str  # what the Ecs executor's tasks read from Secrets Manager
    dag_bucket: str | None
    metrics: str  # the CloudWatch dashboard, and the prefix of the alarms
    rds: RdsNames | None
    ecs: EcsNames | None

    def queue_names(self) -> dict[str, str]:
        """Celery queue -> SQS queue name."""
        return {queue.celery: queue.sqs for queue in self.queues}


def secret_id(namespace: str, name: str, what: str) -> str:
    """The Secrets Manager name of the cluster's secret ``what``, or of a prefix below it."""
    return f"airflow/{namespace}/{name}/{what}"


def aws_names(
    namespace: str, name: str, spec: AirflowClusterSpec, log_group: str, uid: str = ""
) -> AwsNames:
    """The AWS names of the cluster ``namespace/name`` with ``spec``; ``uid`` is the
    object's, which tells a cluster from an earlier one of the same name."""
    return AwsNames(
        owner=f"{namespace}/{name}",
        queues=tuple(_queue(spec, namespace, name, queue) for queue in spec.workers.all_queues()),
        log_group=log_group,
        fargate_profile=spec.fargate.profile.name or resource_name(namespace, name, limit=100),
        admin_secret_id=secret_id(namespace, name, "admin"),
        database_secret_id=secret_id(namespace, name, "database"),
        keys_secret_id=secret_id(namespace, name, "keys"),
        secret_prefix=f"airflow/{namespace}/",
        executor_secret_id=secret_id(namespace, name, "ecs-executor"),
        dag_bucket=_dag_bucket(spec, namespace, name),
        metrics=resource_name(namespace, name, limit=200),
        rds=_rds(spec, namespace, name, uid),
        ecs=_ecs(spec, namespace, name),
    )


def _queue(spec: AirflowClusterSpec, namespace: str, name: str, queue: str) -> QueueNames:
    prefix = spec.broker.sqs.queue_name_prefix
    sqs = f"{prefix}{queue}" if prefix else resource_name(namespace, name, f"-{queue}")
    return QueueNames(queue, sqs, dead_letter_queue_name(sqs))


def _dag_bucket(spec: AirflowClusterSpec, namespace: str, name: str) -> str | None:
    if spec.dags.s3 is None:
        return None
    return spec.dags.s3.bucket or bucket_name(namespace, name)


def _rds(spec: AirflowClusterSpec, namespace: str, name: str, uid: str) -> RdsNames | None:
    if spec.database.rds is None:
        return None
    instance = spec.database.rds.instance_identifier or instance_identifier(namespace, name)
    return rds_names(instance, uid)


def rds_names(instance: str, uid: str = "") -> RdsNames:
    """The RDS instance ``instance`` and the names of what FarFlow creates beside it. The
    final snapshot carries the cluster's uid: a cluster deleted, made again under the same
    name and deleted again takes a second snapshot instead of failing on the first."""
    suffix = f"-{uid[:8]}" if uid else ""
    return RdsNames(instance, f"{instance}-subnets", f"{instance}-final{suffix}")


def _ecs(spec: AirflowClusterSpec, namespace: str, name: str) -> EcsNames | None:
    if spec.ecs is None:
        return None
    return EcsNames(
        cluster=spec.ecs.cluster.name or resource_name(namespace, name),
        executor_family=resource_name(namespace, name, "-executor", 255),
        task_family=resource_name(namespace, name, "-task", 255),
    )
