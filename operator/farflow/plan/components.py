"""The Airflow 3 processes of a cluster: command, size, replicas, probes and rollout order."""

from __future__ import annotations

from farflow.api.resolve import ResolvedComponent, ResolvedSpec, ResolvedTriggerer
from farflow.api.spec import Resources
from farflow.plan.config import API_PORT, SCHEDULER_HEALTH_PORT, WORKER_LOG_PORT
from farflow.plan.model import Component, ComponentName, Probe, Size

# A rollout goes stage by stage after the migration: the API server first (workers and the
# UI talk to it), then the processes that schedule, then the workers that run tasks.
API_STAGE, SCHEDULING_STAGE, WORKER_STAGE = 1, 2, 3


def components(spec: ResolvedSpec) -> tuple[Component, ...]:
    """The components to run, in rollout order; suspended clusters run zero replicas."""
    planned = [_api_server(spec), _scheduler(spec), _dag_processor(spec)]
    if spec.triggerer.enabled:
        planned.append(_triggerer(spec))
    planned.append(_worker(spec))
    return tuple(planned)


def _size(resources: Resources) -> Size:
    return Size(cpu=resources.cpu, memory=resources.memory)


def _replicas(spec: ResolvedSpec, wanted: int) -> int:
    return 0 if spec.suspend else wanted


def _job_check(job_type: str) -> Probe:
    """Airflow's own liveness check of a job's heartbeat; slow to start, so probed rarely."""
    return Probe(
        command=("airflow", "jobs", "check", "--job-type", job_type, "--local"),
        period_seconds=60,
        timeout_seconds=50,
        failure_threshold=3,
        initial_delay_seconds=30,
    )


def _api_server(spec: ResolvedSpec) -> Component:
    health = Probe(http_path="/api/v2/monitor/health", port=API_PORT)
    return Component(
        name="api-server",
        command=("airflow", "api-server", "--port", str(API_PORT)),
        replicas=_replicas(spec, spec.api_server.replicas),
        size=_size(spec.api_server.resources),
        rollout_stage=API_STAGE,
        port=API_PORT,
        readiness=health,
        liveness=Probe(http_path=health.http_path, port=API_PORT, failure_threshold=6),
    )


def _scheduler(spec: ResolvedSpec) -> Component:
    health = Probe(http_path="/health", port=SCHEDULER_HEALTH_PORT)
    return Component(
        name="scheduler",
        command=("airflow", "scheduler"),
        replicas=_replicas(spec, spec.scheduler.replicas),
        size=_size(spec.scheduler.resources),
        rollout_stage=SCHEDULING_STAGE,
        readiness=health,
        liveness=Probe(http_path="/health", port=SCHEDULER_HEALTH_PORT, failure_threshold=6),
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
    check = _job_check(job_type)
    return Component(
        name=name,
        command=("airflow", name),
        replicas=_replicas(spec, component.replicas),
        size=_size(component.resources),
        rollout_stage=SCHEDULING_STAGE,
        readiness=check,
        liveness=check,
    )


def _worker(spec: ResolvedSpec) -> Component:
    workers = spec.workers
    # The worker's log server answers only while the worker process tree is alive.
    log_server = Probe(port=WORKER_LOG_PORT)
    return Component(
        name="worker",
        command=(
            "airflow",
            "celery",
            "worker",
            "--queues",
            ",".join(workers.queues),
            "--concurrency",
            str(workers.concurrency),
        ),
        replicas=_replicas(spec, workers.min_replicas),
        size=_size(workers.resources),
        rollout_stage=WORKER_STAGE,
        port=WORKER_LOG_PORT,
        readiness=log_server,
        liveness=Probe(port=WORKER_LOG_PORT, failure_threshold=6),
        termination_grace_seconds=workers.termination_grace_period_seconds,
    )
