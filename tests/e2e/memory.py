"""How much memory each component's container holds: its process tree's resident memory,
sampled while the e2e tests run.

Two sums per sample: RSS counts a page once per process mapping it, so the forked Celery
pool and Airflow's subprocesses count their shared pages many times; PSS splits each shared
page among the processes sharing it, which is what the container's cgroup is charged
(page cache aside). The peaks of both are kept."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from farflow.fargate import parse_memory_mib
from tests.fixtures.processes import descendants
from tests.unit.planning import planned

INTERVAL = 2.0


@dataclass(frozen=True)
class Usage:
    rss_kib: int = 0
    pss_kib: int = 0

    def peak(self, other: Usage) -> Usage:
        return Usage(max(self.rss_kib, other.rss_kib), max(self.pss_kib, other.pss_kib))


def tree_usage(pid: int) -> Usage:
    """The RSS and PSS of ``pid`` and every process below it."""
    rss = pss = 0
    for member in [pid, *descendants(pid)]:
        fields = _rollup(member)
        rss, pss = rss + fields.get("Rss", 0), pss + fields.get("Pss", 0)
    return Usage(rss, pss)


def _rollup(pid: int) -> dict[str, int]:
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    except OSError:  # ended meanwhile
        return {}
    return {line.split()[0].rstrip(":"): int(line.split()[1]) for line in lines}


class MemorySampler:
    """Samples the trees of ``pids()`` (component -> main PID) until stopped."""

    def __init__(self, pids: Callable[[], Mapping[str, int]]) -> None:
        self.pids = pids
        self.peaks: dict[str, Usage] = {}  # by component
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL):
            for name, pid in self.pids().items():
                self.peaks[name] = self.peaks.get(name, Usage()).peak(tree_usage(pid))


@cache
def container_memory_mib(preset: str) -> dict[str, int]:
    """Each component's container memory on ``preset``, as the operator sizes it."""
    made = planned({"spec": {"size": preset}})
    return {c.name: int(parse_memory_mib(c.size.memory)) for c in made.components}
