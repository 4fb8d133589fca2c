"""What `farflow dev` does when a component fails: the supervisor starts it again with a
back-off, says when it keeps failing and ends what it left behind; a component that cannot
start stops `up` with its log's tail, and nothing is left running."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest
import yaml

from farflow.dev.supervisor import FAILING_AFTER, Supervisor
from farflow.local import LocalProcess
from tests.cases import DEV, ROOT
from tests.dev.dev_cluster import FARFLOW, DevCluster
from tests.fixtures.processes import free_port, wait_until

pytestmark = pytest.mark.e2e


def crashing(name: str, script: str) -> LocalProcess:
    return LocalProcess(name, ("/bin/sh", "-c", script), {"PATH": "/usr/bin:/bin"})


def test_a_crashing_component_is_restarted_until_it_is_said_to_keep_failing(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    supervisor = Supervisor(tmp_path, lines.append)
    # It leaves a child behind, as a process whose main process died may.
    children = tmp_path / "children"
    script = f"sleep 300 & echo $! >> {children}; sleep 1; echo broken; exit 3"
    supervisor.start([crashing("flaky", script)])
    component = supervisor.components["flaky"]

    def failing() -> bool:
        supervisor.tick()
        return component.state == "failing"

    try:
        wait_until(failing, 120, "the component marked as failing", 0.2)
    finally:
        supervisor.stop()
    assert component.restarts == FAILING_AFTER - 1  # the last exit is not restarted yet
    assert component.last_error == "exit 3: broken"
    assert any("flaky keeps failing" in line and str(component.log) in line for line in lines)
    assert component.log.read_text().count("broken") == FAILING_AFTER  # one log goes on
    left = [int(pid) for pid in children.read_text().split()]
    assert len(left) == FAILING_AFTER
    assert not [pid for pid in left if _alive(pid)]


def test_failed_liveness_restarts_a_component_and_failed_readiness_shows_it_unready(
    tmp_path: Path,
) -> None:
    alive, ready = tmp_path / "alive", tmp_path / "ready"
    alive.touch()
    ready.touch()

    def checking(path: Path) -> dict[str, object]:
        return {"exec": {"command": ["test", "-f", str(path)]}, "periodSeconds": 1,
                "failureThreshold": 2, "timeoutSeconds": 1}  # fmt: skip

    sleeper = LocalProcess(
        "sleeper", ("/bin/sleep", "300"), {"PATH": "/usr/bin:/bin"},
        probes={"livenessProbe": checking(alive), "readinessProbe": checking(ready)},
    )  # fmt: skip
    lines: list[str] = []
    supervisor = Supervisor(tmp_path, lines.append)
    supervisor.start([sleeper])
    component = supervisor.components["sleeper"]

    def shown() -> str:
        supervisor.tick()
        return str(component.as_json()["state"])

    try:
        wait_until(lambda: shown() == "running", 30, "the sleeper running", 0.2)
        ready.unlink()
        wait_until(lambda: shown() == "unready", 30, "the sleeper unready", 0.2)
        assert component.restarts == 0  # readiness restarts nothing
        ready.touch()
        wait_until(lambda: shown() == "running", 30, "the sleeper ready again", 0.2)
        first = component.process.popen.pid if component.process and component.process.popen else 0
        alive.unlink()
        wait_until(lambda: bool(shown()) and component.restarts == 1, 30, "a restart", 0.2)
    finally:
        supervisor.stop()
    assert component.last_error.startswith("liveness probe failed 2 times")
    assert not _alive(first)
    assert any(line.startswith("sleeper ended (liveness probe failed") for line in lines)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_component_that_cannot_start_stops_up_with_its_log(tmp_path: Path) -> None:
    manifest = yaml.safe_load(DEV.read_text())
    manifest["spec"]["airflow"]["config"]["celery"] = {"worker_autoscale": "not-a-number"}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(manifest))
    dev = DevCluster(tmp_path / "state", ROOT / "airflow" / "dags", free_port())
    try:
        result = dev.farflow("up", "-f", str(path), "--port", str(dev.port), "--detach",
                             timeout=900)  # fmt: skip
        assert result.returncode == 1
        assert "worker cannot start" in result.stdout, result.stdout
        assert "not-a-number" in result.stdout  # the tail of its log says why
        assert str(tmp_path / "state" / "logs" / "worker.log") in result.stdout
        wait_until(lambda: not dev.ours(), 60, "everything up started gone", 1)
        assert dev.state()["phase"] == "failed"
        status = dev.farflow("status")
        assert "the last up failed: worker cannot start" in status.stdout, status.stdout
    finally:
        dev.farflow("down", "--purge")


def test_ctrl_c_while_starting_stops_what_was_started(tmp_path: Path) -> None:
    """Also when `up` starts with SIGINT ignored, as a shell starts a background job (and as
    CI's pytest may run): `up` installs its own handler."""
    dev = DevCluster(tmp_path / "state", ROOT / "airflow" / "dags", free_port())
    up_argv = [FARFLOW, "dev", "up", "--port", str(dev.port), "--state-dir", str(dev.state_dir)]
    argv = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *up_argv]  # exec: the same PID
    output = tmp_path / "up.out"  # a file: a pipe nobody reads could block `up` when full
    with output.open("wb") as out:
        up = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONFAULTHANDLER": "1"})  # fmt: skip
    try:
        wait_until(lambda: _migrating(dev), 300, "the migration Job started", 0.5)
        started = dev.ours()
        assert {"postgres", "aws"} <= {row["name"] for row in dev.state()["processes"]}
        up.send_signal(signal.SIGINT)
        assert _exit_code(up, output) == 130
        assert started
        assert not [r for r in started if r.process() is not None]
        assert dev.state()["phase"] == "stopped"
    finally:
        if up.poll() is None:
            up.kill()
        dev.farflow("down", "--purge")


def _exit_code(up: subprocess.Popen[bytes], output: Path) -> int:
    """Its exit code; if it hangs, its threads' stacks (faulthandler, on SIGABRT) fail the
    test, so the hang says where it is."""
    try:
        return up.wait(120)
    except subprocess.TimeoutExpired:
        up.send_signal(signal.SIGABRT)
        up.wait(30)
        pytest.fail(f"`up` did not stop within 120 s:\n{output.read_text(errors='replace')}")


def _migrating(dev: DevCluster) -> bool:
    state = dev.state() if (dev.state_dir / "state.json").exists() else {}
    return str(state.get("message", "")).startswith("migrating")
