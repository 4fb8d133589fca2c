"""The components as supervised processes, as the kubelet keeps a pod's containers: a
container counts as started once its startup probe passes (tried each second here, where
the kubelet waits periodSeconds), one whose process ends is started again after a doubling
back-off, its log file goes on, and when it keeps failing a line says so. Once running,
its liveness and readiness probes run on their schedule: failureThreshold liveness failures
in a row stop and restart it, as the kubelet does, and failed readiness shows it unready.
When a container's main process ends, every process it left (as a pod's end takes its
whole process tree) is ended too."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from farflow.dev.state import Recorded, kill_all
from farflow.local import LocalProcess, probes
from farflow.local.process import Process, run_to_completion, start_container, tail

FIRST_BACKOFF = 1.0  # seconds before the first restart; doubled after each failed one
MAX_BACKOFF = 30.0
FAILING_AFTER = 3  # restarts in a row without staying up: "keeps failing"
STEADY = 60.0  # seconds up after which a component's earlier crashes are forgotten
PERIODIC = ("livenessProbe", "readinessProbe")  # run on their schedule once started


@dataclass
class Supervised:
    """One component: its container, its current process and what it went through."""

    local: LocalProcess = field(repr=False)
    log: Path
    process: Process | None = None
    state: str = "waiting"  # initializing, starting, running, restarting, failing, stopped
    started: float | None = None  # wall clock, for uptime
    restarts: int = 0
    crashes: int = 0  # in a row, without staying up STEADY seconds
    last_error: str = ""
    restart_at: float = 0.0  # monotonic
    members: dict[int, Recorded] = field(default_factory=dict)  # its process tree
    ready: bool = True  # its readiness probe's verdict (none: ready)
    due: dict[str, float] = field(default_factory=dict)  # probe kind -> next try (monotonic)
    failures: dict[str, int] = field(default_factory=dict)  # probe kind -> failures in a row

    @property
    def name(self) -> str:
        return self.local.name

    def start(self) -> None:
        self.process = start_container(self.local, self.log)
        self.started, self.state = time.time(), "starting"
        self.watch()

    def probe_startup(self, now: float) -> None:
        """Running once the startup probe passes (at once without one); the other probes
        start from then."""
        probe = self.local.probes.get("startupProbe")
        if probe is None or probes.attempt(probe, self.local.env).ok:
            self.state, self.ready, self.failures = "running", True, {}
            self.due = dict.fromkeys(PERIODIC, now)

    def probe_periodic(self, now: float) -> str | None:
        """The liveness and readiness probes that are due; why liveness failed the
        container, when it did."""
        for kind in PERIODIC:
            probe = self.local.probes.get(kind)
            if probe is None or now < self.due.get(kind, now):
                continue
            self.due[kind] = now + probe.get("periodSeconds", 10)
            tried = probes.attempt(probe, self.local.env)
            self.failures[kind] = 0 if tried.ok else self.failures.get(kind, 0) + 1
            failed = self.failures[kind] >= probe.get("failureThreshold", 3)
            if kind == "readinessProbe":
                self.ready = tried.ok or not failed
            elif failed:
                return f"liveness probe failed {self.failures[kind]} times: {tried.detail}"
        return None

    def watch(self) -> None:
        """Remembers the process tree, so what outlives the main process can be ended."""
        assert self.process is not None
        assert self.process.popen is not None
        with contextlib.suppress(psutil.Error):
            main = psutil.Process(self.process.popen.pid)
            for member in [main, *main.children(recursive=True)]:
                self.members.setdefault(member.pid, Recorded(member.pid, member.create_time()))
        self.members = {pid: r for pid, r in self.members.items() if r.process() is not None}

    def end_leftovers(self) -> None:
        kill_all(self.members.values())
        self.members = {}

    def as_json(self) -> dict[str, Any]:
        popen = self.process.popen if self.process else None
        return {
            "name": self.name,
            "state": "unready" if self.state == "running" and not self.ready else self.state,
            "pid": popen.pid if popen else None,
            "started": self.started,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "log": str(self.log),
            "members": [r.as_json() for r in self.members.values()],
        }


class Supervisor:
    def __init__(
        self, logs: Path, notify: Callable[[str], None], changed: Callable[[], None] = lambda: None
    ) -> None:
        self.logs, self.notify, self.changed = logs, notify, changed
        self.components: dict[str, Supervised] = {}

    def run_job(self, job: LocalProcess, timeout: float = 600) -> None:
        """A Job's pod: its init containers, then its container, each to success."""
        for local in (*job.init, job):
            run_to_completion(local, self.logs / f"{job.name}-{local.name}.log", timeout)

    def start(self, containers: Iterable[LocalProcess]) -> None:
        """Each container after its init containers (run once, as in a pod); those without
        any first."""
        for local in sorted(containers, key=lambda c: bool(c.init)):
            supervised = Supervised(local, self.logs / f"{local.name}.log", state="initializing")
            self.components[local.name] = supervised
            self.changed()
            for init in local.init:
                run_to_completion(init, self.logs / f"{local.name}-{init.name}.log")
            supervised.start()

    def tick(self) -> None:
        """Notices ended processes and starts again those whose back-off is over."""
        now = time.monotonic()
        for component in self.components.values():
            if component.state in ("starting", "running"):
                self._check(component, now)
            elif component.state in ("restarting", "failing") and now >= component.restart_at:
                component.restarts += 1
                component.start()

    def _check(self, component: Supervised, now: float) -> None:
        assert component.process is not None
        assert component.process.popen is not None
        code = component.process.popen.poll()
        if code is None:
            component.watch()
            if component.state == "starting":
                component.probe_startup(now)
            elif (unhealthy := component.probe_periodic(now)) is not None:
                self._unhealthy(component, unhealthy, now)
                return
            if component.started and time.time() - component.started > STEADY:
                component.crashes = 0
            return
        self._crashed(component, f"exit {code}: {tail(component.log, 1)}", now)

    def _unhealthy(self, component: Supervised, why: str, now: float) -> None:
        """Stopped as the kubelet stops a container its liveness probe failed, then
        restarted like one that exited."""
        assert component.process is not None
        component.process.stop()
        self._crashed(component, why, now)

    def _crashed(self, component: Supervised, error: str, now: float) -> None:
        """Its tree ended, its restart scheduled after the back-off, and a line said."""
        component.end_leftovers()
        component.crashes += 1
        component.last_error = error[:300]
        backoff = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (component.crashes - 1))
        component.restart_at = now + backoff
        component.state = "failing" if component.crashes >= FAILING_AFTER else "restarting"
        if component.crashes == FAILING_AFTER:
            self.notify(
                f"{component.name} keeps failing ({component.crashes} ends in a row, the last "
                f"{component.last_error}); its log: {component.log}"
            )
        else:
            self.notify(
                f"{component.name} ended ({component.last_error}); restarting in {backoff:.0f} s"
            )

    def started(self) -> bool:
        """Every component is running, its startup probe passed."""
        return all(c.state == "running" for c in self.components.values())

    def failing(self) -> list[Supervised]:
        return [c for c in self.components.values() if c.state == "failing"]

    def stop(self) -> None:
        """Every component at once, as a pod's containers are stopped, then what they left."""
        running = [c for c in self.components.values() if c.process is not None]
        with ThreadPoolExecutor(max_workers=max(1, len(running))) as pool:
            list(pool.map(_stop, running))

    def as_json(self) -> list[dict[str, Any]]:
        return [component.as_json() for component in self.components.values()]


def _stop(component: Supervised) -> None:
    if component.process is not None:
        if component.process.alive():
            component.watch()
        component.process.stop()
    component.end_leftovers()
    component.state = "stopped"
