"""Parsing and resolving specs: defaults, presets, Fargate snapping."""

from __future__ import annotations

import pytest

from farflow.api import parse, resolve
from farflow.api.resolve import PRESETS, container_resources
from farflow.fargate import is_valid, pod_size
from tests.cases import FULL, MINIMAL, load, merged

pytestmark = pytest.mark.unit


def test_minimal_manifest_takes_every_default() -> None:
    spec = resolve(parse(load(MINIMAL))).spec
    assert spec.airflow.version == "3.3.2"
    assert spec.airflow.image.reference == "ghcr.io/farflow/airflow:3.3.2"  # FarFlow's own
    assert spec.airflow.executors == ["Celery"]
    assert spec.size == "small"
    assert spec.dags.image is not None
    assert spec.airflow.longest_task_seconds == 3600
    assert spec.broker.sqs.visibility_timeout_seconds == 3660
    assert spec.workers.termination_grace_period_seconds == 3660
    assert (spec.workers.concurrency, spec.workers.autoscaling.tasks_per_worker) == (5, 5)
    assert spec.pods.namespace == "default"
    assert spec.pods.service_account_name == "minimal-task"
    assert spec.logging.cloudwatch.log_group == "/farflow/default/minimal"
    assert spec.api_server.service.type == "LoadBalancer"


def test_presets_follow_the_size() -> None:
    manifest = merged(load(MINIMAL), {"spec": {"size": "large"}})
    spec = resolve(parse(manifest)).spec
    assert spec.workers.concurrency == 20
    assert spec.scheduler.resources is not None
    assert (spec.scheduler.resources.cpu, spec.scheduler.resources.memory) == ("4", "7936Mi")


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_fargate_valid_and_fills_its_pod(name: str) -> None:
    preset = PRESETS[name]  # type: ignore[index]
    for size in (
        preset.api_server,
        preset.scheduler,
        preset.dag_processor,
        preset.triggerer,
        preset.worker,
    ):
        assert is_valid(size), f"{name}: {size}"
        container = container_resources(size)
        assert pod_size(container.cpu, container.memory) == size


def test_presets_grow_with_their_size() -> None:
    concurrencies = [preset.concurrency for preset in PRESETS.values()]
    assert concurrencies == sorted(concurrencies)


def test_explicit_resources_are_snapped_up_to_a_fargate_pod() -> None:
    spec = resolve(parse(load(FULL))).spec
    assert spec.workers.resources is not None
    # 2 vCPU with 7680Mi + 256Mi lands exactly on 2 vCPU / 8 GB.
    assert (spec.workers.resources.cpu, spec.workers.resources.memory) == ("2", "7936Mi")
    assert spec.dag_processor.resources is not None
    # 0.5 vCPU with 1536Mi + 256Mi needs 2 GB.
    assert (spec.dag_processor.resources.cpu, spec.dag_processor.resources.memory) == (
        "500m",
        "1792Mi",
    )
    assert spec.workers.concurrency == 8
    assert spec.workers.autoscaling.tasks_per_worker == 6


def test_full_example_keeps_its_choices() -> None:
    spec = resolve(parse(load(FULL))).spec
    assert spec.airflow.executors == ["Celery", "Kubernetes", "Ecs"]
    assert spec.database.rds is not None
    assert spec.database.rds.multi_az is True
    assert spec.pods.namespace == "airflow-tasks"
    assert spec.ecs is not None
    assert spec.ecs.cluster.name == "farflow-tasks"


@pytest.mark.parametrize(
    ("patch", "derived"),
    [
        ({}, (3660, 3660, 7260, 300)),  # the default longest task: one hour
        ({"airflow": {"longestTaskSeconds": 60}}, (120, 120, 600, 120)),  # Airflow's floors
        ({"airflow": {"longestTaskSeconds": 200}}, (260, 260, 600, 200)),
        ({"airflow": {"longestTaskSeconds": 43140}}, (43200, 43200, 86340, 300)),  # SQS's max
        (  # explicit values win, and the queue wait follows the visibility timeout
            {
                "airflow": {"longestTaskSeconds": 600},
                "broker": {"sqs": {"visibilityTimeoutSeconds": 1800}},
                "workers": {"terminationGracePeriodSeconds": 900},
            },
            (1800, 900, 2400, 300),
        ),
    ],
)
def test_task_timeouts_follow_the_longest_task(
    patch: dict[str, object], derived: tuple[int, int, int, int]
) -> None:
    """visibility, grace, queued and heartbeat timeouts: farflow.api.timeouts' rule."""
    spec = resolve(parse(merged(load(MINIMAL), {"spec": patch}))).spec
    timeouts = spec.timeouts
    assert (timeouts.visibility, timeouts.grace, timeouts.queued, timeouts.heartbeat) == derived
    assert spec.broker.sqs.visibility_timeout_seconds == timeouts.visibility
    assert spec.workers.termination_grace_period_seconds == timeouts.grace
    longest = spec.airflow.longest_task_seconds
    assert timeouts.visibility >= longest  # a running task is never handed out twice
    assert timeouts.grace >= longest  # nor cut short by a stopping worker
    assert timeouts.queued > timeouts.visibility  # a dead worker's unstarted task comes back
    # before it would be reaped
