"""EKS Fargate pod sizing: the valid vCPU/memory combinations and how a request maps onto one.

Fargate bills and schedules a pod as the smallest valid combination that holds the largest of
(the largest init container, the sum of the containers) plus 256 MiB for its own components.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from kubernetes.utils.quantity import parse_quantity

OVERHEAD_MIB = 256
MIB = 1024 * 1024

# vCPU -> (smallest GiB, largest GiB, step GiB); 0.25 vCPU is the one irregular row.
_MEMORY_RANGES: dict[Decimal, tuple[Decimal, Decimal, Decimal]] = {
    Decimal("0.5"): (Decimal(1), Decimal(4), Decimal(1)),
    Decimal(1): (Decimal(2), Decimal(8), Decimal(1)),
    Decimal(2): (Decimal(4), Decimal(16), Decimal(1)),
    Decimal(4): (Decimal(8), Decimal(30), Decimal(1)),
    Decimal(8): (Decimal(16), Decimal(60), Decimal(4)),
    Decimal(16): (Decimal(32), Decimal(120), Decimal(8)),
}
_QUARTER_VCPU_GIB = (Decimal("0.5"), Decimal(1), Decimal(2))

MAX_VCPU = Decimal(16)
MAX_MEMORY_MIB = 120 * 1024


class FargateSizeError(ValueError):
    """A request that no Fargate pod size can hold."""


@dataclass(frozen=True, order=True)
class FargateSize:
    """One valid Fargate pod size."""

    vcpu: Decimal
    memory_mib: int

    @property
    def cpu(self) -> str:
        """The vCPU as a Kubernetes quantity, in the canonical form the API server returns."""
        if self.vcpu == self.vcpu.to_integral_value():
            return str(int(self.vcpu))
        return f"{int(self.vcpu * 1000)}m"

    @property
    def memory(self) -> str:
        """The memory as a Kubernetes quantity, in MiB."""
        return f"{self.memory_mib}Mi"

    @property
    def container_memory_mib(self) -> int:
        """What the containers of a pod of this size may use: the size less Fargate's share."""
        return self.memory_mib - OVERHEAD_MIB

    def __str__(self) -> str:
        return f"{self.vcpu.normalize()} vCPU / {Decimal(self.memory_mib) / 1024} GB"


@cache
def valid_sizes() -> tuple[FargateSize, ...]:
    """Every valid Fargate size, smallest vCPU first, then smallest memory."""
    sizes = [FargateSize(Decimal("0.25"), int(gib * 1024)) for gib in _QUARTER_VCPU_GIB]
    for vcpu, (low, high, step) in _MEMORY_RANGES.items():
        gib = low
        while gib <= high:
            sizes.append(FargateSize(vcpu, int(gib * 1024)))
            gib += step
    return tuple(sorted(sizes))


def parse_cpu(cpu: str) -> Decimal:
    """A Kubernetes CPU quantity ("500m", "1", "0.5") in vCPU."""
    return Decimal(parse_quantity(cpu))


def parse_memory_mib(memory: str) -> Decimal:
    """A Kubernetes memory quantity ("512Mi", "2Gi", "1G") in MiB."""
    return Decimal(parse_quantity(memory)) / MIB


def pod_size(cpu: str, memory: str) -> FargateSize:
    """The Fargate size a pod whose containers need ``cpu`` and ``memory`` runs as."""
    vcpu = parse_cpu(cpu)
    needed_mib = parse_memory_mib(memory) + OVERHEAD_MIB
    if vcpu > MAX_VCPU or needed_mib > MAX_MEMORY_MIB:
        raise FargateSizeError(
            f"cpu {cpu} / memory {memory} (+{OVERHEAD_MIB}Mi Fargate overhead) exceeds the "
            f"largest Fargate pod, {valid_sizes()[-1]}; lower the request"
        )
    return next(s for s in valid_sizes() if s.vcpu >= vcpu and s.memory_mib >= needed_mib)


def is_valid(size: FargateSize) -> bool:
    """Whether ``size`` is exactly one of Fargate's combinations."""
    return size in valid_sizes()
