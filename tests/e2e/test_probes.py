"""The probes the operator renders, run as the kubelet runs them (farflow/local/probes.py)
against the running components: they pass while the components are healthy, fail a hung
main process within failureThreshold periods once it can be seen, ride out a database
outage, and fit with their component into its container on every size preset."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from farflow.api.resolve import PRESETS
from farflow.local import probes
from farflow.plan.components import HEARTBEAT_MAX_AGE
from tests.e2e.conftest import Stack
from tests.e2e.dag_runs import Run
from tests.e2e.memory import Usage, container_memory_mib
from tests.fixtures.postgres import Postgres
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.e2e

KINDS = ("startupProbe", "readinessProbe", "livenessProbe")
# How long after a hang each liveness check can tell: the worker's heartbeat file ages past
# HEARTBEAT_MAX_AGE; the scheduler's /health fails once its job's heartbeat is older than
# [scheduler] scheduler_health_check_threshold (Airflow's default, 30 s).
STALE_AFTER = {"worker": HEARTBEAT_MAX_AGE, "scheduler": 30}
OUTAGE_SECONDS = 100
# Airflow's jobs that end when their database refuses them (the kubelet restarts them).
ENDS_WITHOUT_ITS_DATABASE = {"scheduler", "dag-processor", "triggerer"}


def rendered_containers(stack: Stack) -> dict[str, dict[str, Any]]:
    """Each component's container, as its Deployment renders it."""
    by_name = {
        m["metadata"]["name"]: m["spec"]["template"]["spec"]["containers"][0]
        for m in stack.manifests
        if m["kind"] == "Deployment"
    }
    return {c.name: by_name[stack.plan.names.of(c.name)] for c in stack.plan.components}


@pytest.fixture(scope="module")
def probe_rss() -> dict[str, int]:
    """Component -> the highest RSS (KiB) one of its exec probes reached."""
    return {}


def note(probe_rss: dict[str, int], component: str, attempts: list[probes.Attempt]) -> None:
    peak = max((a.peak_rss_kib for a in attempts), default=0)
    probe_rss[component] = max(probe_rss.get(component, 0), peak)


def liveness(stack: Stack, component: str) -> tuple[dict[str, Any], dict[str, str]]:
    return rendered_containers(stack)[component]["livenessProbe"], stack.containers[component].env


def main_process(stack: Stack, component: str) -> int:
    """The component's own process: dumb-init's child (the stand-in entrypoint exec'd it)."""
    pid = stack.current[component].popen.pid  # type: ignore[union-attr]
    [child] = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(child)


@contextmanager
def stopped(pids: list[int]) -> Iterator[None]:
    """The processes frozen (SIGSTOP) as a hang would leave them, then let go on."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def concurrently(checks: dict[str, Callable[[], probes.Verdict]]) -> dict[str, probes.Verdict]:
    with ThreadPoolExecutor(len(checks)) as pool:
        futures = {name: pool.submit(check) for name, check in checks.items()}
        return {name: future.result() for name, future in futures.items()}


def test_every_probe_passes_while_healthy(stack: Stack, probe_rss: dict[str, int]) -> None:
    assert_every_probe_passes(stack, probe_rss)


def assert_every_probe_passes(stack: Stack, probe_rss: dict[str, int]) -> None:
    """As the kubelet probes a starting container: the startup probe on its schedule until
    it passes (within its failureThreshold), then the readiness and liveness probes."""
    for name, container in rendered_containers(stack).items():
        env = stack.containers[name].env
        started = probes.on_schedule(container["startupProbe"], env, lambda v: v.attempts[-1].ok)
        assert not started.failed, f"{name} never started: {started.attempts[-1].detail}"
        checks = [probes.attempt(container[kind], env) for kind in KINDS]
        for kind, result in zip(KINDS, checks, strict=True):
            assert result.ok, f"{name} {kind}: {result.detail}"
        note(probe_rss, name, [*started.attempts, *checks])


def test_a_hung_main_process_fails_liveness(stack: Stack, probe_rss: dict[str, int]) -> None:
    """SIGSTOP Celery's main process and the scheduler's: counting from the first probe
    that can see it, each liveness probe fails the container after failureThreshold probes.
    The worker's log server and the scheduler's health server (processes of their own) go
    on answering, as a TCP probe or a health server alone would have it."""

    def until_failed(component: str) -> Callable[[], probes.Verdict]:
        probe, env = liveness(stack, component)
        seeing = math.ceil(STALE_AFTER[component] / probe["periodSeconds"])
        bound = seeing + probe["failureThreshold"]
        return lambda: probes.on_schedule(probe, env, lambda v: len(v.attempts) >= bound)

    with stopped([main_process(stack, name) for name in STALE_AFTER]):
        verdicts = concurrently({name: until_failed(name) for name in STALE_AFTER})
    for name, verdict in verdicts.items():
        note(probe_rss, name, verdict.attempts)
        assert verdict.failed, f"{name}: {[a.detail for a in verdict.attempts]}"
    assert_every_probe_passes(stack, probe_rss)  # let go on, they recover: the stack goes on


def test_a_database_outage_fails_no_liveness(
    stack: Stack, postgres: Postgres, probe_rss: dict[str, int]
) -> None:
    """PostgreSQL down for 100 s, longer than an RDS Multi-AZ failover. No liveness probe
    fails its container (the scheduler's /health and the job probes read the database, and
    tolerate 150 s of that). Airflow's scheduler, DAG processor and triggerer end on their
    own when the database refuses them, by Airflow's design; the kubelet restarts an ended
    container, and so does this test, once PostgreSQL is back. The API server and the
    workers ride the outage out."""
    back = threading.Event()

    def ride_out(component: str) -> Callable[[], probes.Verdict]:
        probe, env = liveness(stack, component)
        process = stack.current[component]
        return lambda: probes.on_schedule(
            probe, env, lambda v: back.is_set() and v.attempts[-1].ok, process.alive
        )

    names = [c.name for c in stack.plan.components]
    with ThreadPoolExecutor(len(names)) as pool:
        postgres.stop()
        down_at = time.monotonic()
        futures = {name: pool.submit(ride_out(name)) for name in names}
        try:
            wait_until(
                lambda: time.monotonic() - down_at >= OUTAGE_SECONDS,
                OUTAGE_SECONDS + 60,
                f"{OUTAGE_SECONDS} s of database outage",
                interval=1,
            )
        finally:
            postgres.start()
            back.set()
        verdicts = {name: future.result() for name, future in futures.items()}
    for name, verdict in verdicts.items():
        note(probe_rss, name, verdict.attempts)
        assert not verdict.failed, f"{name} failed liveness: {[a.detail for a in verdict.attempts]}"
    exited = sorted(name for name, verdict in verdicts.items() if verdict.exited)
    print(f"ended on their own in the outage: {exited}")
    assert set(exited) <= ENDS_WITHOUT_ITS_DATABASE
    for name in exited:  # restartPolicy Always
        stack.current[name].kill()
        stack.start(name, f"{name}-after-outage")
    assert_every_probe_passes(stack, probe_rss)
    stack.assert_alive()


def test_every_component_and_its_probes_fit_its_container_on_every_preset(
    stack: Stack, runs: dict[str, Run], probe_rss: dict[str, int]
) -> None:
    """The peak memory (PSS, what the container's cgroup is charged) of each component's
    process tree while every example DAG and the probe tests above ran, plus two of its
    exec probes at once (readiness and liveness can overlap), against its container's memory
    on every preset. Only the worker's memory grows with the preset (its concurrency): it
    is scaled up from the concurrency measured, as if all of it grew with the task slots."""
    assert stack.memory is not None
    peaks = stack.memory.peaks
    report = []
    for name, usage in sorted(peaks.items()):
        report.append(
            f"{name}: peak RSS {usage.rss_kib // 1024} MiB, PSS {usage.pss_kib // 1024} MiB, "
            f"exec probe RSS {probe_rss.get(name, 0) // 1024} MiB"
        )
    print("\n".join(report))
    too_big = [
        f"{preset}: {name} needs {need} MiB of {limit} MiB"
        for preset in PRESETS
        for name, limit in container_memory_mib(preset).items()
        if (need := needed_mib(name, preset, peaks[name], probe_rss.get(name, 0), stack)) > limit
    ]
    assert too_big == [], "\n".join([*too_big, *report])


def needed_mib(name: str, preset: str, peak: Usage, probe_kib: int, stack: Stack) -> int:
    scale = 1.0
    if name == "worker":
        measured = stack.containers["worker"]
        concurrency = int(measured.argv[measured.argv.index("--concurrency") + 1])
        scale = max(1.0, PRESETS[preset].concurrency / concurrency)  # type: ignore[index]
    return math.ceil((peak.pss_kib * scale + 2 * probe_kib) / 1024)
