"""What `farflow dev up` refuses before it starts anything, each with the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from farflow.dev import checks
from farflow.dev.state import DevError
from tests.cases import DEV

pytestmark = pytest.mark.unit

DEV_EXAMPLE = DEV


def manifest(tmp_path: Path, **spec: Any) -> Path:
    body = yaml.safe_load(DEV_EXAMPLE.read_text())
    body["spec"] |= spec
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_the_dev_example_runs_here() -> None:
    resolved = checks.cluster(DEV_EXAMPLE)
    assert resolved.spec.airflow.executors == ["Celery"]
    assert resolved.spec.dags.image is not None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {
                "database": {
                    "rds": {"subnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]}
                }
            },
            "set that instead",
        ),
        ({"airflow": {"executors": ["Celery", "Kubernetes"]}}, "leave it out"),
        ({"size": "huge"}, "spec.size"),
    ],
)
def test_a_cluster_that_cannot_run_here_says_why(
    tmp_path: Path, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(DevError, match=message):
        checks.cluster(manifest(tmp_path, **spec))


def test_a_missing_manifest_or_dag_folder_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(DevError, match="-f"):
        checks.cluster(tmp_path / "nothing.yaml")
    with pytest.raises(
        DevError, match=f"the DAG folder {tmp_path / 'dags'} does not exist.*--dags"
    ):
        checks.dag_folder(tmp_path / "dags")
