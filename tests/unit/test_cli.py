"""The `farflow` command: crd, validate and render."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from farflow.cli import main
from tests.cases import EXAMPLES, MINIMAL, ROOT

pytestmark = pytest.mark.unit


def test_crd_prints_the_checked_in_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crd"]) == 0
    assert capsys.readouterr().out == (ROOT / "crds" / "airflowcluster.yaml").read_text()


def test_examples_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-f", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "AirflowCluster minimal is valid" in out
    assert "AirflowCluster full is valid" in out


def test_validate_reports_every_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = yaml.safe_load(MINIMAL.read_text())
    bad = {**good, "spec": {**good["spec"], "size": "tiny"}}
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump_all([good, bad, ["not", "a", "mapping"]]))

    assert main(["validate", "-f", str(path)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert f"{path}[0]: AirflowCluster minimal is valid" in out
    assert any(line.startswith(f"{path}[1]: spec.size: ") for line in out)
    assert f"{path}[2]: (document): must be a mapping (an AirflowCluster object)" in out


def test_render_output_is_itself_valid_and_stable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "-f", str(MINIMAL)]) == 0
    rendered = capsys.readouterr().out
    assert yaml.safe_load(rendered)["spec"]["workers"]["concurrency"] == 5

    again = tmp_path / "rendered.yaml"
    again.write_text(rendered)
    assert main(["render", "-f", str(again)]) == 0
    assert capsys.readouterr().out == rendered


def test_render_refuses_an_invalid_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.read_text().replace("name: airflow-db", "name: Airflow_DB"))
    assert main(["render", "-f", str(path)]) == 1
    assert "spec.database.connectionSecretRef.name: must be a Kubernetes" in capsys.readouterr().err


def test_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-f", "/nonexistent/cluster.yaml"]) == 2
    assert "No such file or directory" in capsys.readouterr().err
