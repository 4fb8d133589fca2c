"""A cluster pointed at an image that lacks a module its configuration imports (apache/airflow
has no pycurl, which the SQS broker needs): the worker's preflight init container, as the
operator renders it, names the module, what needs it and the fix, and fails, so the worker
itself never starts into a crash loop deep inside Celery. The image here is this machine's
Airflow with pycurl hidden by a module that refuses to import."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from farflow.runtime.farflow_preflight import FIX
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def test_a_worker_on_an_image_without_pycurl_names_it_and_does_not_start(
    stack: Stack, tmp_path: Path
) -> None:
    # The e2e cluster's startup script puts the bootstrap init container first.
    [preflight] = [c for c in stack.containers["worker"].init if c.name == "preflight"]
    (tmp_path / "pycurl.py").write_text("raise ImportError('No module named pycurl')\n")
    env = {**preflight.env, "PYTHONPATH": f"{tmp_path}:{preflight.env['PYTHONPATH']}"}
    result = subprocess.run(
        preflight.argv, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 1
    image = stack.plan.image
    assert (
        f"{image} lacks the Python module pycurl, which kombu's SQS transport (the Celery "
        "broker) reads SQS with (No module named pycurl)"
    ) in result.stderr
    assert f"FarFlow cannot run Airflow from {image}: {FIX}" in result.stderr
    assert "kombu.transport.SQS" not in result.stderr  # only what is missing is named
