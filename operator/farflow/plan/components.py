"""The Airflow 3 processes of a cluster: command, size, replicas, probes and rollout order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from farflow.api.names import KubeNames
from farflow.api.resolve import (
    ResolvedComponent,
    ResolvedSpec,
    ResolvedTriggerer,
    ResolvedWorkerPool,
)
from farflow.api.spec import Resources
from farflow.fargate import OVERHEAD_MIB
from farflow.plan.config import API_PORT, METRICS_PORT, SCHEDULER_HEALTH_PORT, WORKER_LOG_PORT
from farflow.plan.model import Component, ComponentName, EnvVar, Probe, Probes, Size

# A rollout goes stage by stage after the migration: the API server first (workers and the
# UI talk to it), then the processes that schedule, then the workers that run tasks.
API_STAGE, SCHEDULING_STAGE, WORKER_STAGE = 1, 2, 3


def components(
    spec: ResolvedSpec, names: KubeNames, queue_urls: Iterable[str] = ()
) -> tuple[Component, ...]:
    """The components to run, in rollout order; suspended clusters run zero replicas."""
    planned = [_api_server(spec), _scheduler(spec), _dag_processor(spec)]
    if spec.triggerer.enabled:
        planned.append(_triggerer(spec))
    planned.extend(_workers(spec))
    if spec.metrics.enabled:
        planned.append(_metrics_collector(spec, names, queue_urls))
    return tuple(planned)


def _size(resources: Resources) -> Size:
    return Size(cpu=resources.cpu, memory=resources.memory)


def _replicas(spec: ResolvedSpec, wanted: int) -> int:
    return 0 if spec.suspend else wanted


@dataclass(frozen=True)
class Schedule:
    """When a probe runs: every ``period`` seconds, failed after ``failures`` in a row."""

    period: int
    failures: int
    timeout: int


# What the probes may cost a slow start and a database outage: a start gets five minutes
# (startup probes), and liveness that reads the database (the scheduler's /health, the job
# probes) tolerates failing for 150 s, longer than an RDS Multi-AZ failover (60-120 s).
STARTUP = Schedule(period=10, failures=30, timeout=10)
READINESS = Schedule(period=15, failures=4, timeout=10)
DATABASE_LIVENESS = Schedule(period=30, failures=6, timeout=20)
API_LIVENESS = Schedule(period=15, failures=6, timeout=10)
WORKER_LIVENESS = Schedule(period=30, failures=4, timeout=10)
# The worker's heartbeat file is touched every 10 s (farflow_celery): older than a minute,
# Celery's main process has stopped turning its loop.
HEARTBEAT_MAX_AGE = 60


def _on(action: Probe, schedule: Schedule) -> Probe:
    return replace(
        action,
        period_seconds=schedule.period,
        failure_threshold=schedule.failures,
        timeout_seconds=schedule.timeout,
    )


def _probes(action: Probe, liveness: Schedule, readiness: Probe | None = None) -> Probes:
    """A component's startup, readiness and liveness probes: ``action`` (``readiness`` for
    its readiness probe, when given) on each one's schedule."""
    return Probes(
        startup=_on(action, STARTUP),
        readiness=_on(readiness or action, READINESS),
        liveness=_on(action, liveness),
    )


def _job_check(job_type: str) -> Probe:
    """The heartbeat of this host's Airflow job, read without loading Airflow."""
    return Probe(command=("python", "-m", "farflow_probe", "job", job_type))


def _worker_check(*port: str) -> Probe:
    """Celery's main process turns its loop (and, with a port, the log server answers)."""
    heartbeat = ("heartbeat", str(HEARTBEAT_MAX_AGE), *port)
    return Probe(command=("python", "-m", "farflow_probe", *heartbeat))


def _api_server(spec: ResolvedSpec) -> Component:
    health = Probe(http_path="/api/v2/monitor/health", port=API_PORT)
    return Component(
        name="api-server",
        command=("airflow", "api-server", "--port", str(API_PORT)),
        replicas=_replicas(spec, spec.api_server.replicas),
        size=_size(spec.api_server.resources),
        rollout_stage=API_STAGE,
        port=API_PORT,
        probes=_probes(health, API_LIVENESS),
    )


def _scheduler(spec: ResolvedSpec) -> Component:
    # Served by a process of its own, from the scheduler job's heartbeat in the database.
    health = Probe(http_path="/health", port=SCHEDULER_HEALTH_PORT)
    return Component(
        name="scheduler",
        command=("airflow", "scheduler"),
        replicas=_replicas(spec, spec.scheduler.replicas),
        size=_size(spec.scheduler.resources),
        rollout_stage=SCHEDULING_STAGE,
        probes=_probes(health, DATABASE_LIVENESS),
    )


def _dag_processor(spec: ResolvedSpec) -> Component:
    return _job_component("dag-processor", spec.dag_processor, "DagProcessorJob", spec)


def _triggerer(spec: ResolvedSpec) -> Component:
    return _job_component("triggerer", spec.triggerer, "TriggererJob", spec)


def _job_component(
    name: ComponentName,
    component: ResolvedComponent | ResolvedTriggerer,
    job_type: str,
    spec: ResolvedSpec,
) -> Component:
    """A component whose health is its Airflow job's heartbeat."""
    return Component(
        name=name,
        command=("airflow", name),
        replicas=_replicas(spec, component.replicas),
        size=_size(component.resources),
        rollout_stage=SCHEDULING_STAGE,
        probes=_probes(_job_check(job_type), DATABASE_LIVENESS),
    )


def _workers(spec: ResolvedSpec) -> list[Component]:
    """A Deployment of workers per pool, each consuming its pool's queues alone."""
    return [_worker(spec, name, pool) for name, pool in spec.workers.by_component().items()]


def _worker(spec: ResolvedSpec, name: str, pool: ResolvedWorkerPool) -> Component:
    return Component(
        name=name,
        command=(
            "airflow",
            "celery",
            "worker",
            "--queues",
            ",".join(pool.queues),
            "--concurrency",
            str(pool.concurrency),
        ),
        replicas=_replicas(spec, pool.min_replicas),
        size=_size(pool.resources),
        rollout_stage=WORKER_STAGE,
        port=WORKER_LOG_PORT,
        # The image's dumb-init (PID 1) passes SIGTERM to Celery's main process alone, which
        # shuts down warm: no new tasks, the running ones finish within the grace period. In
        # its default (setsid) mode the whole process group got it: the log server and idle
        # pool processes died, and each task's supervisor passed it on to the task, whose
        # operator's on_kill() stopped the work (a subprocess, a pod, an ECS task).
        env=(EnvVar("DUMB_INIT_SETSID", "0"),),
        # Ready also needs the log server, a process of its own, which serves task logs.
        probes=_probes(
            _worker_check(), WORKER_LIVENESS, readiness=_worker_check(str(WORKER_LOG_PORT))
        ),
        termination_grace_seconds=spec.workers.termination_grace_period_seconds,
        preflight=True,
        scaled_elsewhere=not spec.suspend,
    )


# The collector's pod: 0.25 vCPU / 0.5 GB, the smallest Fargate size, a 256 MiB container
# (its process, boto3, protobuf and prometheus_client loaded, measured 50 MiB at rest).
METRICS_SIZE = Size(cpu="250m", memory=f"{512 - OVERHEAD_MIB}Mi")


def _metrics_collector(
    spec: ResolvedSpec, names: KubeNames, queue_urls: Iterable[str]
) -> Component:
    """farflow_metrics: Airflow's metrics into CloudWatch and for Prometheus. First in the
    rollout, so the scheduling processes find it there."""
    metrics = spec.metrics
    health = Probe(http_path="/healthz", port=METRICS_PORT)
    env = {
        "FARFLOW_METRICS_PORT": str(METRICS_PORT),
        "FARFLOW_METRICS_NAMESPACE": metrics.namespace,
        "FARFLOW_METRICS_CLUSTER": f"{names.namespace}/{names.cluster}",
        "FARFLOW_METRICS_INTERVAL": str(metrics.interval_seconds),
        "FARFLOW_METRICS_QUEUES": ",".join(queue_urls),
    }
    return Component(
        name="metrics",
        command=("python", "-m", "farflow_metrics"),
        replicas=_replicas(spec, 1),
        size=METRICS_SIZE,
        rollout_stage=API_STAGE,
        env=tuple(EnvVar(name, value) for name, value in env.items()),
        port=METRICS_PORT,
        probes=_probes(health, API_LIVENESS),
        airflow=False,
    )
