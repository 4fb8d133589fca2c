"""What `farflow dev up` refuses before it starts anything, each with the fix."""

from __future__ import annotations

import base64
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


URL = "postgresql+psycopg2://airflow:pw@127.0.0.1:5432/airflow"


def with_secret(tmp_path: Path, secret: dict[str, Any]) -> Path:
    path = tmp_path / "cluster.yaml"
    body = yaml.safe_load(DEV_EXAMPLE.read_text())
    path.write_text(yaml.safe_dump_all([body, {"apiVersion": "v1", "kind": "Secret", **secret}]))
    return path


def test_the_database_is_the_users_where_the_manifest_holds_its_secret(tmp_path: Path) -> None:
    assert checks.own_database_url(DEV_EXAMPLE, checks.cluster(DEV_EXAMPLE)) is None
    as_text = with_secret(tmp_path, {"metadata": {"name": "airflow-db"},
                                     "stringData": {"connection": URL}})  # fmt: skip
    assert checks.own_database_url(as_text, checks.cluster(as_text)) == URL
    encoded = base64.b64encode(URL.encode()).decode()
    as_data = with_secret(tmp_path, {"metadata": {"name": "airflow-db"},
                                     "data": {"connection": encoded}})  # fmt: skip
    assert checks.own_database_url(as_data, checks.cluster(as_data)) == URL
    other = with_secret(tmp_path, {"metadata": {"name": "other"}, "stringData": {"x": "y"}})
    assert checks.own_database_url(other, checks.cluster(other)) is None


def test_a_database_secret_without_the_key_names_it(tmp_path: Path) -> None:
    path = with_secret(tmp_path, {"metadata": {"name": "airflow-db"}, "stringData": {"url": URL}})
    with pytest.raises(DevError, match=r"has no key connection.*stringData\.connection"):
        checks.own_database_url(path, checks.cluster(path))
