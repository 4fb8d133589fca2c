"""spec.airflow's requirements, plugins and startup script, from the embedded S3, in real
Airflow processes (`farflow dev`, which runs the pods' init containers as the kubelet
would): a DAG that imports a package the image lacks, one that uses a plugin's macro and one
that reads a variable the startup script exports all succeed."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.cases import DEV, load, merged
from tests.dev.dev_cluster import DevCluster
from tests.fixtures.processes import free_port
from tests.fixtures.wheels import build_wheel

pytestmark = pytest.mark.e2e

BUCKET = "farflow-bootstrap"
DAGS = Path(__file__).with_name("bootstrap_dags")
PLUGIN = """
from airflow.plugins_manager import AirflowPlugin


def greet(whom: str) -> str:
    return f"hello from {whom}"


class FarflowGreeting(AirflowPlugin):
    name = "farflow_greeting"
    macros = [greet]
"""
STARTUP = """echo 'setting the greeting'
export AIRFLOW_VAR_STARTUP_GREETING='hello from the startup script'
"""


def s3_objects(folder: Path, wheels: Path) -> None:
    """The bucket the embedded S3 is filled with: requirements.txt naming a local index (no
    network), plugins.zip and startup.sh, as an MWAA user keeps them."""
    bucket = folder / BUCKET
    bucket.mkdir(parents=True)
    requirements = f"--no-index\n--find-links {wheels}\nfarflow-e2e-extra==1.0\n"
    (bucket / "requirements.txt").write_text(requirements)
    plugins = io.BytesIO()
    with zipfile.ZipFile(plugins, "w") as archive:
        archive.writestr("farflow_greeting.py", PLUGIN)
    (bucket / "plugins.zip").write_bytes(plugins.getvalue())
    (bucket / "startup.sh").write_text(STARTUP)


def test_requirements_plugins_and_a_startup_script_reach_every_dag(tmp_path: Path) -> None:
    wheels, s3 = tmp_path / "wheels", tmp_path / "s3"
    source = {"farflow_e2e_extra/__init__.py": "GREETING = 'hello from a requirement'\n"}
    build_wheel(wheels, "farflow_e2e_extra", "1.0", source)
    s3_objects(s3, wheels)
    airflow = {
        "requirements": {"s3": {"bucket": BUCKET, "key": "requirements.txt"}},
        "plugins": {"bucket": BUCKET, "key": "plugins.zip"},
        "startupScript": {"bucket": BUCKET, "key": "startup.sh"},
    }
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(yaml.safe_dump(merged(load(DEV), {"spec": {"airflow": airflow}})))
    dags = tmp_path / "dags"
    shutil.copytree(DAGS, dags)
    cluster = DevCluster(
        tmp_path / "state", dags, free_port(), manifest=manifest, s3=tmp_path / "s3"
    )
    try:
        result = cluster.up()
        assert result.returncode == 0, result.stdout + result.stderr
        logs = cluster.state_dir / "logs"  # the init container's, then the container's
        bootstrap = (logs / "worker-bootstrap.log").read_text()
        assert "installed the requirements of s3://farflow-bootstrap/requirements.txt" in bootstrap
        assert "setting the greeting" in (logs / "worker.log").read_text()  # the script ran
        for dag_id in ("bootstrap_requirement", "bootstrap_plugin", "bootstrap_startup"):
            cluster.api.unpause(dag_id)
            run_id = cluster.api.trigger(dag_id)
            state = cluster.api.wait_for_run(dag_id, run_id, 300)
            assert state == "success", cluster.api.task_states(dag_id, run_id)
    finally:
        print(cluster.farflow("down", "--purge").stdout)
