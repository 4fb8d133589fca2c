"""The benchmarks' output: the machine they ran on, markdown tables, a JSON copy."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.progress import Progress, TaskID

from tests.controlplane.localcluster import BIN_DIR, REPO_ROOT

RESULTS = Path(__file__).with_name("results")
PACKAGES = ("kopf", "kubernetes", "boto3", "moto", "pydantic")


@dataclass
class Table:
    """One table: a row per measure, the last column the command that reproduces it."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)  # raw, for the JSON copy

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", _row(self.columns), _row(("---",) * len(self.columns))]
        lines += [_row(row) for row in self.rows]
        return "\n".join([*lines, "", *self.notes])


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def p50_p95(samples: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile (interpolated between the samples)."""
    if len(samples) == 1:
        return samples[0], samples[0]
    cuts = statistics.quantiles(samples, n=20, method="inclusive")
    return statistics.median(samples), cuts[18]


def machine() -> dict[str, str]:
    """What the numbers depend on: the hardware, its load, the versions of every part."""
    return {
        "cpu": _cpuinfo("model name"),
        "cores": str(os.cpu_count()),
        "memory": f"{_meminfo_kib('MemTotal') / 2**20:.1f} GiB",
        "load average (1, 5, 15 min) at start": load_average(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kube-apiserver": _tool_version("kube-apiserver", "--version"),
        "kwok": _tool_version("kwok", "--version"),
        "helm": _tool_version("helm", "version", "--short"),
        **{package: version(package) for package in PACKAGES},
        "farflow commit": _git("rev-parse", "--short", "HEAD") + _dirty(),
    }


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def header(about: dict[str, str]) -> str:
    lines = ["### Machine", "", "| | |", "| --- | --- |"]
    return "\n".join(lines + [f"| {key} | {value} |" for key, value in about.items()])


def _cpuinfo(key: str) -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith(key):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _meminfo_kib(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _tool_version(binary: str, *args: str) -> str:
    result = subprocess.run(
        [str(BIN_DIR / binary), *args], capture_output=True, text=True, check=False
    )
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else "unknown"


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", *args], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )
    return result.stdout.strip()


def _dirty() -> str:
    return " (with uncommitted changes)" if _git("status", "--porcelain") else ""


def save(about: dict[str, str], tables: list[Table]) -> Path:
    """The run as JSON in bench/results/, named by its start time."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / time.strftime("%Y%m%dT%H%M%S.json")
    run: dict[str, Any] = {"machine": about, "tables": [asdict(table) for table in tables]}
    path.write_text(json.dumps(run, indent=1))
    return path


def pause(progress: Progress, task: TaskID, duration: float) -> None:
    """Sleeps ``duration`` seconds, advancing ``task`` by each second."""
    end = time.monotonic() + duration
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        progress.advance(task, min(1.0, left))


def tally(items: list[str]) -> str:
    """Each distinct item of ``items`` with its count: 'get secrets x12, ...'."""
    counted: dict[str, int] = {}
    for item in items:
        counted[item] = counted.get(item, 0) + 1
    return ", ".join(f"{key} x{n}" for key, n in sorted(counted.items())) or "none"
