"""Resolves a cluster once per reconcile: size presets, Fargate-snapped resources, the
defaults that depend on other fields, and every derived name.

The result is what every later stage reads (plan, AWS, cleanup, render), with nothing left
to guess and no fallback to apply again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel

from farflow.api.names import (
    WORKER,
    AwsNames,
    KubeNames,
    SecretRef,
    aws_names,
    pool_component,
    secret_id,
)
from farflow.api.resource import AirflowCluster
from farflow.api.spec import (
    AirflowClusterSpec,
    AirflowSpec,
    ApiServerSpec,
    AutoscalingSpec,
    BrokerSpec,
    CloudWatchSpec,
    ComponentSpec,
    ImageSpec,
    LoggingSpec,
    NamedWorkerPoolSpec,
    PodsSpec,
    Resources,
    SchedulerSpec,
    SecretsBackendSpec,
    SizePreset,
    SqsSpec,
    TriggererSpec,
    WorkerPoolSpec,
    WorkersSpec,
)
from farflow.api.timeouts import TaskTimeouts, task_timeouts
from farflow.api.types import ImageTag, K8sName, LogGroupName
from farflow.fargate import FargateSize, pod_size


def _size(vcpu: str, gib: str) -> FargateSize:
    return FargateSize(Decimal(vcpu), int(Decimal(gib) * 1024))


@dataclass(frozen=True)
class Preset:
    """Fargate pod sizes of each component and the worker concurrency of one size preset."""

    api_server: FargateSize
    scheduler: FargateSize
    dag_processor: FargateSize
    triggerer: FargateSize
    worker: FargateSize
    concurrency: int


# Modelled on MWAA's environment classes (mw1.micro .. mw1.2xlarge). Each component with its
# probes fits its container, as measured by tests/e2e/test_probes.py: the triggerer (its
# TriggerRunner subprocess and log server included) peaks near 370 MiB, so no preset gives it
# the 256 MiB container of a 0.5 GB pod.
PRESETS: dict[SizePreset, Preset] = {
    "micro": Preset(
        _size("0.5", "1"), _size("0.5", "1"), _size("0.25", "1"), _size("0.25", "1"),
        _size("1", "3"), 3,
    ),
    "small": Preset(
        _size("0.5", "1"), _size("1", "2"), _size("0.5", "1"), _size("0.25", "1"),
        _size("1", "2"), 5,
    ),
    "medium": Preset(
        _size("1", "2"), _size("2", "4"), _size("1", "2"), _size("0.5", "1"),
        _size("2", "4"), 10,
    ),
    "large": Preset(
        _size("2", "4"), _size("4", "8"), _size("2", "4"), _size("1", "2"),
        _size("4", "8"), 20,
    ),
    "xlarge": Preset(
        _size("4", "8"), _size("8", "24"), _size("4", "8"), _size("1", "2"),
        _size("8", "24"), 40,
    ),
    "2xlarge": Preset(
        _size("4", "8"), _size("16", "48"), _size("8", "16"), _size("2", "4"),
        _size("16", "48"), 80,
    ),
}  # fmt: skip


def container_resources(size: FargateSize) -> Resources:
    """The container resources that fill a pod of ``size`` exactly."""
    return Resources(cpu=size.cpu, memory=f"{size.container_memory_mib}Mi")


def snapped(resources: Resources | None, preset_size: FargateSize) -> Resources:
    """The resources given (or the preset's), grown to fill the Fargate pod they land in."""
    if resources is None:
        return container_resources(preset_size)
    return container_resources(pod_size(resources.cpu, resources.memory))


class ResolvedImage(ImageSpec):
    tag: ImageTag

    @property
    def reference(self) -> str:
        """The image as containers pull it: repository@digest when pinned, else repository:tag."""
        if self.digest:
            return f"{self.repository}@{self.digest}"
        return f"{self.repository}:{self.tag}"


class ResolvedSecretsBackend(SecretsBackendSpec):
    connections_prefix: str
    variables_prefix: str


class ResolvedAirflow(AirflowSpec):
    image: ResolvedImage
    secrets_backend: ResolvedSecretsBackend | None


class ResolvedComponent(ComponentSpec):
    resources: Resources


class ResolvedApiServer(ApiServerSpec):
    resources: Resources


class ResolvedScheduler(SchedulerSpec):
    resources: Resources


class ResolvedTriggerer(TriggererSpec):
    resources: Resources


class ResolvedAutoscaling(AutoscalingSpec):
    tasks_per_worker: int


class ResolvedPool(NamedWorkerPoolSpec):
    concurrency: int
    resources: Resources
    autoscaling: ResolvedAutoscaling


class ResolvedWorkers(WorkersSpec):
    concurrency: int
    resources: Resources
    autoscaling: ResolvedAutoscaling
    termination_grace_period_seconds: int
    pools: list[ResolvedPool]

    def by_component(self) -> dict[str, ResolvedWorkerPool]:
        """Each pool under its component's name: the default pool is "worker", a named one
        worker-<name>."""
        named = {pool_component(pool.name): pool for pool in self.pools}
        return {WORKER: self, **named}


ResolvedWorkerPool = ResolvedWorkers | ResolvedPool


class ResolvedSqs(SqsSpec):
    visibility_timeout_seconds: int


class ResolvedBroker(BrokerSpec):
    sqs: ResolvedSqs


class ResolvedPods(PodsSpec):
    namespace: K8sName
    service_account_name: K8sName


class ResolvedCloudWatch(CloudWatchSpec):
    log_group: LogGroupName


class ResolvedLogging(LoggingSpec):
    cloudwatch: ResolvedCloudWatch


class ResolvedSpec(AirflowClusterSpec):
    """The spec with every default that depends on other fields filled in: no field that
    resolve fills is optional here."""

    airflow: ResolvedAirflow
    api_server: ResolvedApiServer
    scheduler: ResolvedScheduler
    dag_processor: ResolvedComponent
    triggerer: ResolvedTriggerer
    workers: ResolvedWorkers
    broker: ResolvedBroker
    pods: ResolvedPods
    logging: ResolvedLogging

    @property
    def timeouts(self) -> TaskTimeouts:
        """Every timeout of a task's life (farflow.api.timeouts)."""
        return task_timeouts(
            self.airflow.longest_task_seconds,
            self.broker.sqs.visibility_timeout_seconds,
            self.workers.termination_grace_period_seconds,
        )


@dataclass(frozen=True)
class ResolvedCluster:
    """One AirflowCluster as every later stage reads it, computed once per reconcile: its
    identity, its resolved spec, and the names of its Kubernetes objects and AWS resources."""

    name: str
    namespace: str
    spec: ResolvedSpec
    names: KubeNames
    aws_names: AwsNames
    uid: str = ""  # the API server's id of the object; none for a manifest in a file

    @property
    def qualified_name(self) -> str:
        """namespace/name: the cluster's identity across namespaces (and its AWS owner tag)."""
        return f"{self.namespace}/{self.name}"

    @property
    def database_secret(self) -> SecretRef:
        """The Secret key with the database URL: the user's, or the one FarFlow writes for
        RDS."""
        ref = self.spec.database.connection_secret_ref
        if ref is None:
            return SecretRef(self.names.database_secret, "connection")
        return SecretRef(ref.name, ref.key)


Model = TypeVar("Model", bound=BaseModel)


def _filled(model: BaseModel, into: type[Model], **values: Any) -> Model:
    """``model`` as the resolved type ``into``, with ``values`` filled in."""
    return into.model_validate({**model.model_dump(), **values})


def _sized(component: ComponentSpec, into: type[Model], preset_size: FargateSize) -> Model:
    return _filled(component, into, resources=snapped(component.resources, preset_size))


def _resolved_pool(pool: WorkerPoolSpec, into: type[Model], preset: Preset, **values: Any) -> Model:
    concurrency = pool.concurrency or preset.concurrency
    autoscaling = _filled(
        pool.autoscaling,
        ResolvedAutoscaling,
        tasks_per_worker=pool.autoscaling.tasks_per_worker or concurrency,
    )
    resources = snapped(pool.resources, preset.worker)
    return _filled(
        pool, into, concurrency=concurrency, autoscaling=autoscaling, resources=resources, **values
    )


def _resolved_workers(
    workers: WorkersSpec, preset: Preset, timeouts: TaskTimeouts
) -> ResolvedWorkers:
    pools = [_resolved_pool(pool, ResolvedPool, preset) for pool in workers.pools]
    return _resolved_pool(
        workers,
        ResolvedWorkers,
        preset,
        termination_grace_period_seconds=timeouts.grace,
        pools=pools,
    )


def resolve(cluster: AirflowCluster) -> ResolvedCluster:
    """The cluster with every default that depends on other fields filled in, and named."""
    spec, meta = cluster.spec, cluster.metadata
    names = KubeNames(meta.name, meta.namespace)
    resolved = _resolved_spec(spec, names)
    log_group = resolved.logging.cloudwatch.log_group
    return ResolvedCluster(
        name=meta.name,
        namespace=meta.namespace,
        spec=resolved,
        names=names,
        aws_names=aws_names(meta.namespace, meta.name, resolved, log_group, meta.uid or ""),
        uid=meta.uid or "",
    )


def _resolved_spec(spec: AirflowClusterSpec, names: KubeNames) -> ResolvedSpec:
    preset = PRESETS[spec.size]
    airflow = spec.airflow
    image = _filled(airflow.image, ResolvedImage, tag=airflow.image.tag or airflow.version)
    task_namespace = spec.pods.namespace or names.namespace
    pods = _filled(
        spec.pods,
        ResolvedPods,
        namespace=task_namespace,
        service_account_name=spec.pods.service_account_name
        or names.in_task_namespace(task_namespace, "task"),
    )
    cloudwatch = spec.logging.cloudwatch
    log_group = cloudwatch.log_group or f"/farflow/{names.namespace}/{names.cluster}"
    timeouts = task_timeouts(
        airflow.longest_task_seconds,
        spec.broker.sqs.visibility_timeout_seconds,
        spec.workers.termination_grace_period_seconds,
    )
    sqs = _filled(spec.broker.sqs, ResolvedSqs, visibility_timeout_seconds=timeouts.visibility)
    return _filled(
        spec,
        ResolvedSpec,
        airflow=_filled(
            airflow,
            ResolvedAirflow,
            image=image,
            secrets_backend=_resolved_secrets_backend(airflow.secrets_backend, names),
        ),
        api_server=_sized(spec.api_server, ResolvedApiServer, preset.api_server),
        scheduler=_sized(spec.scheduler, ResolvedScheduler, preset.scheduler),
        dag_processor=_sized(spec.dag_processor, ResolvedComponent, preset.dag_processor),
        triggerer=_sized(spec.triggerer, ResolvedTriggerer, preset.triggerer),
        workers=_resolved_workers(spec.workers, preset, timeouts),
        broker=_filled(spec.broker, ResolvedBroker, sqs=sqs),
        pods=pods,
        logging=_filled(
            spec.logging,
            ResolvedLogging,
            cloudwatch=_filled(cloudwatch, ResolvedCloudWatch, log_group=log_group),
        ),
    )


def _resolved_secrets_backend(
    backend: SecretsBackendSpec | None, names: KubeNames
) -> ResolvedSecretsBackend | None:
    """Without prefixes of their own, two clusters of one AWS account read apart."""
    if backend is None:
        return None
    own = partial(secret_id, names.namespace, names.cluster)
    return _filled(
        backend,
        ResolvedSecretsBackend,
        connections_prefix=backend.connections_prefix or own("connections"),
        variables_prefix=backend.variables_prefix or own("variables"),
    )
