"""farflow.runtime: the modules the operator ships into Airflow containers (probes, the
worker heartbeat, the preflight check), run here as the containers run them."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from farflow.runtime import MODULES, farflow_celery, farflow_preflight, farflow_probe, sources

pytestmark = pytest.mark.unit
RUNTIME = Path(farflow_probe.__file__).parent


def run_module(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m module``, found on PYTHONPATH as in a container (no farflow package)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(RUNTIME), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def imported(source: str) -> set[str]:
    """The top-level packages a module's source imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {name.split(".")[0] for name in names}


def test_the_modules_need_nothing_of_farflow() -> None:
    """They run in the Airflow image, where no farflow package is installed."""
    assert set(sources()) == {f"{name}.py" for name in MODULES}
    for name, source in sources().items():
        assert "farflow" not in imported(source), name


def test_the_heartbeat_writer_and_its_probe_agree_on_the_file() -> None:
    assert farflow_celery.HEARTBEAT_FILE == farflow_probe.HEARTBEAT_FILE


def test_a_fresh_heartbeat_is_healthy_and_a_stale_or_missing_one_is_not(tmp_path: Path) -> None:
    env = {"AIRFLOW_HOME": str(tmp_path)}
    assert run_module("farflow_probe", "heartbeat", "60", env=env).returncode == 1  # none yet
    heartbeat = tmp_path / farflow_probe.HEARTBEAT_FILE
    heartbeat.touch()
    assert run_module("farflow_probe", "heartbeat", "60", env=env).returncode == 0
    stale = time.time() - 61
    os.utime(heartbeat, (stale, stale))
    unhealthy = run_module("farflow_probe", "heartbeat", "60", env=env)
    assert unhealthy.returncode == 1
    assert "unhealthy" in unhealthy.stderr


def test_the_heartbeat_probe_also_needs_the_log_server_when_given_its_port(
    tmp_path: Path,
) -> None:
    (tmp_path / farflow_probe.HEARTBEAT_FILE).touch()
    closed = "9"  # discard: nothing listens there
    result = run_module(
        "farflow_probe", "heartbeat", "60", closed, env={"AIRFLOW_HOME": str(tmp_path)}
    )
    assert result.returncode == 1


def test_a_job_probe_without_its_database_fails_with_the_reason() -> None:
    url = "postgresql+psycopg2://airflow:pw@127.0.0.1:9/airflow"  # nothing listens on port 9
    result = run_module(
        "farflow_probe", "job", "TriggererJob", env={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url}
    )
    assert result.returncode == 1
    assert "farflow_probe job TriggererJob" in result.stderr
    assert "pw" not in result.stderr  # the database URL's password is never printed


def test_the_job_probe_reads_what_airflow_jobs_check_reads(tmp_path: Path) -> None:
    """The host Airflow records its jobs under (airflow.utils.net.getfqdn, the default
    hostname_callable; asked in a process of its own, so no Airflow enters this one)."""
    assert farflow_probe.libpq_url("postgresql+psycopg2://u:p@h:5432/d?sslmode=require") == (
        "postgresql://u:p@h:5432/d?sslmode=require"
    )
    airflows = subprocess.run(
        [sys.executable, "-c", "from airflow.utils.net import getfqdn; print(getfqdn())"],
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert farflow_probe.airflow_hostname() == airflows.stdout.strip()


def test_the_preflight_passes_when_every_module_imports() -> None:
    required = {"json": "a test needs", "psycopg2": "the probes need"}
    result = run_module(
        "farflow_preflight",
        env={"FARFLOW_REQUIRED_MODULES": json.dumps(required), "FARFLOW_IMAGE": "mine:1"},
    )
    assert result.returncode == 0, result.stderr
    assert "mine:1 has every module the configuration imports: json, psycopg2" in result.stdout


def test_the_preflight_names_each_missing_module_what_needs_it_and_the_fix(tmp_path: Path) -> None:
    """As in apache/airflow: pycurl is missing (a shadowing module refuses to import)."""
    (tmp_path / "pycurl.py").write_text("raise ImportError('No module named pycurl')\n")
    required = {
        "pycurl": "kombu's SQS transport (the Celery broker) reads SQS with",
        "json": "a test needs",
    }
    result = run_module(
        "farflow_preflight",
        env={
            "PYTHONPATH": f"{tmp_path}:{RUNTIME}",
            "FARFLOW_REQUIRED_MODULES": json.dumps(required),
            "FARFLOW_IMAGE": "apache/airflow:3.3.2",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://u:secret@h/d",
        },
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "apache/airflow:3.3.2 lacks the Python module pycurl, which kombu's SQS transport "
        "(the Celery broker) reads SQS with (No module named pycurl)"
    )
    assert (
        lines[1] == f"FarFlow cannot run Airflow from apache/airflow:3.3.2: {farflow_preflight.FIX}"
    )
    assert "secret" not in result.stdout + result.stderr


def test_the_preflight_checks_the_database_driver_of_the_url() -> None:
    assert farflow_preflight.database_driver("postgresql://u:p@h/d") == {
        "psycopg2": "the database URL (postgresql://) needs"
    }
    assert farflow_preflight.database_driver("postgresql+psycopg://u:p@h/d") == {
        "psycopg": "the database URL (postgresql+psycopg://) needs"
    }
    assert farflow_preflight.database_driver("") == {}
