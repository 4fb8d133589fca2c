"""Fargate sizing: every request lands on the smallest valid size that holds it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from farflow.fargate import FargateSize, FargateSizeError, is_valid, pod_size, valid_sizes

pytestmark = pytest.mark.unit


def gib(vcpu: str, gigabytes: str) -> FargateSize:
    return FargateSize(Decimal(vcpu), int(Decimal(gigabytes) * 1024))


def test_the_table_of_valid_sizes() -> None:
    counts: dict[Decimal, int] = {}
    for size in valid_sizes():
        counts[size.vcpu] = counts.get(size.vcpu, 0) + 1
    assert counts == {
        Decimal("0.25"): 3,
        Decimal("0.5"): 4,
        Decimal(1): 7,
        Decimal(2): 13,
        Decimal(4): 23,
        Decimal(8): 12,
        Decimal(16): 12,
    }
    assert valid_sizes()[0] == gib("0.25", "0.5")
    assert valid_sizes()[-1] == gib("16", "120")
    assert gib("8", "20") in valid_sizes()
    assert gib("8", "18") not in valid_sizes()


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [
        ("100m", "128Mi", gib("0.25", "0.5")),  # 128 + 256 overhead fits 0.5 GB
        ("250m", "256Mi", gib("0.25", "0.5")),  # exactly 512 MiB with the overhead
        ("250m", "512Mi", gib("0.25", "1")),  # overhead pushes past 0.5 GB
        ("250m", "2560Mi", gib("0.5", "3")),  # too much memory for 0.25 vCPU
        ("500m", "4Gi", gib("1", "5")),  # 4 GB + overhead is past 0.5 vCPU's range
        ("1", "2Gi", gib("1", "3")),
        ("0.5", "768Mi", gib("0.5", "1")),
        ("3", "1Gi", gib("4", "8")),  # no 3 vCPU size; 4 vCPU starts at 8 GB
        ("4", "30Gi", gib("8", "32")),  # 30 GB + overhead needs the 8 vCPU row, 4 GB steps
        ("8", "60Gi", gib("16", "64")),
        ("16", "122624Mi", gib("16", "120")),  # the very largest pod
        ("2", "7G", gib("2", "7")),  # decimal gigabytes: 6676 MiB + 256 fits 7 GB
    ],
)
def test_pod_size_rounds_up(cpu: str, memory: str, expected: FargateSize) -> None:
    assert pod_size(cpu, memory) == expected
    assert is_valid(expected)


@pytest.mark.parametrize(("cpu", "memory"), [("17", "32Gi"), ("16", "120Gi"), ("1", "200Gi")])
def test_pod_size_rejects_what_no_fargate_pod_holds(cpu: str, memory: str) -> None:
    with pytest.raises(FargateSizeError, match="exceeds the largest Fargate pod"):
        pod_size(cpu, memory)


def test_sizes_print_as_quantities() -> None:
    size = gib("0.25", "0.5")
    assert (size.cpu, size.memory, size.container_memory_mib) == ("250m", "512Mi", 256)
    assert str(gib("16", "120")) == "16 vCPU / 120 GB"
