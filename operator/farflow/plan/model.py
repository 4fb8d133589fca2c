"""What a plan is made of: the Airflow processes to run and everything they share.

Kubernetes builders turn these into manifests and the local runtime into processes, so one
change to the plan lands in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from farflow.api.names import WORKER, KubeNames, SecretRef, named_pool

# api-server, scheduler, dag-processor, triggerer, and a worker pool's: worker for the
# default pool, worker-<name> for a named one.
ComponentName = str


@dataclass(frozen=True)
class EnvVar:
    """An environment variable: a literal value or a Secret key, never a secret literal."""

    name: str
    value: str | None = None
    secret: SecretRef | None = None


@dataclass(frozen=True)
class Probe:
    """A health check: an HTTP GET, a TCP connect or a command; it fails the container
    after ``failure_threshold`` failures in a row, one each ``period_seconds``."""

    http_path: str | None = None
    port: int | None = None
    command: tuple[str, ...] = ()
    period_seconds: int = 15
    timeout_seconds: int = 5
    failure_threshold: int = 4
    initial_delay_seconds: int = 0  # a startup probe guards the slow start instead


@dataclass(frozen=True)
class Probes:
    """A container's probes: until ``startup`` passes, the other two wait."""

    startup: Probe
    readiness: Probe
    liveness: Probe

    def by_kind(self) -> dict[str, Probe]:
        """Each probe under its container field's name: startupProbe, readinessProbe, ..."""
        return {
            "startupProbe": self.startup,
            "readinessProbe": self.readiness,
            "livenessProbe": self.liveness,
        }


@dataclass(frozen=True)
class Size:
    """Container resources, already snapped to a Fargate pod (requests equal limits)."""

    cpu: str
    memory: str


@dataclass(frozen=True)
class Component:
    """One Airflow process kind, run as a Deployment (or a local process)."""

    name: ComponentName
    command: tuple[str, ...]
    replicas: int  # at creation; the live count stays where another owner scales it
    size: Size
    rollout_stage: int  # rolled in ascending order after a migration: api-server first
    env: tuple[EnvVar, ...] = ()
    port: int | None = None
    probes: Probes | None = None
    termination_grace_seconds: int = 60
    preflight: bool = False  # an init container first checks the image's modules
    scaled_elsewhere: bool = False  # the autoscaler (or the user's HPA) owns the replicas
    # An Airflow process: it reads the Airflow Secrets and gets spec.airflow's requirements,
    # plugins and startup script. The metrics collector is not one.
    airflow: bool = True

    @property
    def is_worker(self) -> bool:
        """Whether this is a pool of Celery workers."""
        return self.name == WORKER or named_pool(self.name) is not None


@dataclass(frozen=True)
class EcsFacts:
    """Where ECS tasks run: for the Ecs executor and for EcsRunTaskOperator DAGs."""

    cluster: str
    network_configuration: dict[str, Any]
    executor_task_definition: str | None = None  # the Airflow image, for the Ecs executor
    task_definition: str | None = None  # spec.ecs.taskImage, for DAGs
    container_name: str = "task"
    log_group: str | None = None  # the awslogs log driver's group in both task definitions
    log_stream_prefix: str | None = None  # and its awslogs-stream-prefix


@dataclass(frozen=True)
class AwsFacts:
    """What the AWS side reported that names alone do not tell: queue URLs and ARNs."""

    region: str
    queue_urls: dict[str, str]
    log_group_arn: str | None = None
    ecs: EcsFacts | None = None
    # The Fargate profile FarFlow made that the cluster's pods are to run through (the label
    # its selectors want); None without one.
    fargate_profile_label: str | None = None
    # The bootstrap objects that name no version, pinned: s3://bucket/key -> version or etag.
    bootstrap_pins: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """Everything that runs for one AirflowCluster, before it becomes manifests or processes."""

    names: KubeNames
    airflow_version: str
    image: str
    pull_policy: str
    components: tuple[Component, ...]
    config: dict[str, str]  # non-secret AIRFLOW__* settings: go to a ConfigMap
    secret_env: tuple[EnvVar, ...]  # settings read from Secrets by every Airflow container
    migration_command: tuple[str, ...]
    admin_password: SecretRef
    generate_admin_password: bool
    task_namespace: str  # where KubernetesPodOperator pods run (spec.pods.namespace)
    task_service_account: str
    service_account_role_arn: str | None  # the Airflow components' IRSA role
    task_role_arn: str | None  # the task pods' IRSA role
    service: ServicePlan
    pod_labels: dict[str, str]  # what every pod carries for its Fargate profile
    pod_security_groups: tuple[str, ...] = ()  # of the Airflow pods (security groups for pods)
    # Whether the task namespace admits this cluster's task pods (see farflow.tenancy); when
    # it does not, FarFlow makes nothing there.
    tasks_allowed: bool = True
    suspended: bool = False
    # Where the scheduler reads the Kubernetes executor's task pod template; None without it.
    pod_template_file: str | None = None
    # Module -> what needs it: every module the config makes Airflow import (preflight).
    required_modules: dict[str, str] = field(default_factory=dict)
    # spec.airflow's requirements, plugins and startup script, as farflow_bootstrap reads
    # them (JSON); None when the cluster brings none.
    bootstrap: str | None = None
    # The S3 object of the startup script the Airflow containers source first, if any.
    startup_script: str | None = None

    def component(self, name: ComponentName) -> Component | None:
        return next((c for c in self.components if c.name == name), None)

    def secret_keys(self) -> dict[str, set[str]]:
        """The Secret keys the components' pods read: Secret name -> keys."""
        read: dict[str, set[str]] = {}
        for env in (*self.secret_env, *(env for c in self.components for env in c.env)):
            if env.secret is not None:
                read.setdefault(env.secret.name, set()).add(env.secret.key)
        return read


@dataclass(frozen=True)
class ServicePlan:
    """How the API server is exposed, and reached in the cluster."""

    type: str
    port: int  # the API server's, in the cluster
    annotations: dict[str, str]
    in_cluster: str  # the Service in-cluster clients use (the exposed one, unless TLS)
    tls: bool = False  # HTTPS on 443 at the NLB: then the exposed Service has only that port
    source_ranges: tuple[str, ...] = ()
