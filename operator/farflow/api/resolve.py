"""Resolves a spec's defaults: size presets, Fargate-snapped resources, derived names.

The result is the spec every later stage reads, with nothing left to guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from farflow.api.resource import AirflowCluster
from farflow.api.spec import AirflowClusterSpec, ComponentSpec, Resources, SizePreset, WorkersSpec
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


# Modelled on MWAA's environment classes (mw1.micro .. mw1.2xlarge).
PRESETS: dict[SizePreset, Preset] = {
    "micro": Preset(
        _size("0.5", "1"), _size("0.5", "1"), _size("0.25", "1"), _size("0.25", "0.5"),
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


Sized = TypeVar("Sized", ComponentSpec, WorkersSpec)


def _sized(component: Sized, preset_size: FargateSize) -> Sized:
    return component.model_copy(update={"resources": snapped(component.resources, preset_size)})


def _resolved_workers(workers: WorkersSpec, preset: Preset) -> WorkersSpec:
    concurrency = workers.concurrency or preset.concurrency
    autoscaling = workers.autoscaling.model_copy(
        update={"tasks_per_worker": workers.autoscaling.tasks_per_worker or concurrency}
    )
    sized = _sized(workers, preset.worker)
    return sized.model_copy(update={"concurrency": concurrency, "autoscaling": autoscaling})


def resolve(cluster: AirflowCluster) -> AirflowClusterSpec:
    """The cluster's spec with every default that depends on other fields filled in."""
    spec, meta = cluster.spec, cluster.metadata
    preset = PRESETS[spec.size]
    image = spec.airflow.image.model_copy(
        update={"tag": spec.airflow.image.tag or spec.airflow.version}
    )
    pods = spec.pods.model_copy(
        update={
            "namespace": spec.pods.namespace or meta.namespace,
            "service_account_name": spec.pods.service_account_name or f"{meta.name}-task",
        }
    )
    cloudwatch = spec.logging.cloudwatch.model_copy(
        update={
            "log_group": spec.logging.cloudwatch.log_group
            or f"/farflow/{meta.namespace}/{meta.name}"
        }
    )
    return spec.model_copy(
        update={
            "airflow": spec.airflow.model_copy(update={"image": image}),
            "api_server": _sized(spec.api_server, preset.api_server),
            "scheduler": _sized(spec.scheduler, preset.scheduler),
            "dag_processor": _sized(spec.dag_processor, preset.dag_processor),
            "triggerer": _sized(spec.triggerer, preset.triggerer),
            "workers": _resolved_workers(spec.workers, preset),
            "pods": pods,
            "logging": spec.logging.model_copy(update={"cloudwatch": cloudwatch}),
        }
    )
