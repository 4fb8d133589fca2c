"""`farflow dev up` to a healthy UI, cold (an empty state directory) and warm (its second
start), beside `airflow standalone` (SQLite, the LocalExecutor) cold and warm, in turn in the
same run. Healthy: /api/v2/monitor/health says every component of Airflow is."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.progress import Progress

from bench.report import Table, p50_p95, seconds
from farflow.local.process import Process
from tests.cases import DEV, ROOT
from tests.dev.dev_cluster import FARFLOW as FARFLOW_COMMAND
from tests.fixtures.processes import free_port, wait_until

DAGS = Path(__file__).with_name("dags")
HEALTHY_TIMEOUT = 900.0
STOP_TIMEOUT = 60.0
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
FARFLOW, STANDALONE = "`farflow dev up` (PostgreSQL, moto's SQS, Celery)", "`airflow standalone`"
Start = Callable[[Path], "Started"]  # a home folder -> what runs there, once healthy


@dataclass
class Started:
    """A local Airflow just healthy: the CPU its processes used to get there, and its stop."""

    cpu_seconds: float
    stop: Callable[[], None]


def run(samples: int, progress: Progress) -> list[Table]:
    measured: dict[tuple[str, str], list[tuple[float, float]]] = {}
    task = progress.add_task("dev: cold and warm starts", total=samples * 2)
    for _ in range(samples):
        for name, start in ((FARFLOW, _farflow_dev), (STANDALONE, _standalone)):
            with tempfile.TemporaryDirectory(prefix="farflow-bench-dev-") as home:
                for kind in ("cold", "warm"):
                    measured.setdefault((name, kind), []).append(_timed(start, Path(home)))
            progress.advance(task)
    return [_table(measured, samples)]


def _timed(start: Start, home: Path) -> tuple[float, float]:
    """Seconds to healthy, and the CPU seconds spent on it."""
    began = time.monotonic()
    started = start(home)
    took = time.monotonic() - began
    started.stop()
    return took, started.cpu_seconds


def _farflow_dev(home: Path) -> Started:
    """`farflow dev up` in the foreground (as `make run` starts it) on the bench DAGs, its
    default manifest, until healthy; stopped as Ctrl-C stops it."""
    port = free_port()
    arguments = ["-f", str(DEV), "--dags", str(DAGS), "--s3", str(ROOT / "airflow" / "dev-s3"),
                 "--port", str(port), "--state-dir", str(home / "state")]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    up = Process([FARFLOW_COMMAND, "dev", "up", *arguments], home / "up.log", env, inherit=False)
    return _started(up.start(), f"http://127.0.0.1:{port}")


def _standalone(home: Path) -> Started:
    """`airflow standalone` in ``home`` on the bench DAGs, examples off as in FarFlow."""
    port = free_port()
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(port),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    bin_dir = Path(sys.executable).parent  # standalone starts each component as `airflow`
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    standalone = Process([str(bin_dir / "airflow"), "standalone"], home / "standalone.log",
                         env | settings, inherit=False)  # fmt: skip
    return _started(standalone.start(), f"http://127.0.0.1:{port}")


def _started(process: Process, url: str) -> Started:
    """Once the Airflow of ``process`` at ``url`` is healthy: its CPU so far, and how to stop
    it as Ctrl-C does (SIGINT to its main process; what has not ended within STOP_TIMEOUT is
    killed)."""

    def healthy() -> bool:
        assert process.alive(), f"{process.argv} exited:\n{process.tail()}"
        return _healthy(f"{url}/api/v2/monitor/health")

    def stopped() -> None:
        process.send(signal.SIGINT)
        assert process.popen is not None
        with contextlib.suppress(subprocess.TimeoutExpired):  # standalone's may hang
            process.popen.wait(STOP_TIMEOUT)
        process.kill()

    try:
        wait_until(healthy, HEALTHY_TIMEOUT, f"every component healthy at {url}", 0.2)
        assert process.popen is not None
        return Started(_cpu_seconds(process.popen.pid), stopped)
    except BaseException:
        stopped()
        raise


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of ``pid`` and every process below it, ended ones included (as
    far as their parents have reaped them)."""
    root = psutil.Process(pid)
    total = 0.0
    for member in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            health = json.load(answer)
    except OSError:
        return False
    return all(health.get(c, {}).get("status") == "healthy" for c in COMPONENTS)


def _table(measured: dict[tuple[str, str], list[tuple[float, float]]], samples: int) -> Table:
    table = Table(
        "Local Airflow: start to a healthy UI",
        ("how", "start", "p50", "p95", "CPU used (p50)", "starts", "command"),
    )
    command = f"`.venv/bin/python -m bench dev --dev-runs {samples}`"
    for (name, kind), starts in measured.items():
        p50, p95 = p50_p95([took for took, _ in starts])
        cpu = p50_p95([cpu for _, cpu in starts])[0]
        table.rows.append(
            (name, kind, seconds(p50), seconds(p95), seconds(cpu), str(len(starts)), command)
        )
        table.samples[f"{name} {kind}"] = [took for took, _ in starts]
    table.notes = [
        "From the command started to /api/v2/monitor/health reporting the metadatabase, "
        "scheduler, triggerer and DAG processor healthy. Cold: an empty state directory "
        "(farflow dev: PostgreSQL's initdb, moto's resources, Airflow's migrations) or "
        "AIRFLOW_HOME (standalone: SQLite's migrations, its admin user); warm: the second "
        "start on it. Both on bench/dags, Airflow's example DAGs off. farflow dev also "
        "runs a Celery worker on SQS, which standalone does not (it runs the LocalExecutor). "
        "CPU used: user and system seconds of every process of it until then, on "
        f"{os.cpu_count()} cores."
    ]
    return table
