"""`farflow validate` rejects each invalid manifest, and each change of a field that names the
cluster's resources, with a message naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from farflow.api.spec import IDENTITY
from farflow.cli import main
from tests.cases import (
    MINIMAL,
    identity_changes,
    identity_message,
    invalid_cases,
    invalid_manifest,
    load,
    merged,
)

pytestmark = pytest.mark.unit
CASES = invalid_cases()
IDENTITY_CASES = identity_changes()


def test_the_table_is_broad() -> None:
    assert len(CASES) >= 30
    assert len({case["name"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_validate_names_the_field_and_the_fix(
    case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(invalid_manifest(case)))

    assert main(["validate", "-f", str(path)]) == 1

    lines = capsys.readouterr().out.splitlines()
    assert f"{path}[0]: {case['error']}" in lines


@pytest.mark.parametrize("case", IDENTITY_CASES, ids=[case["name"] for case in IDENTITY_CASES])
def test_validate_against_the_previous_version_names_an_identity_change(
    case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    before.write_text(yaml.safe_dump(merged(load(MINIMAL), case["before"])))
    after.write_text(yaml.safe_dump(merged(load(MINIMAL), case["after"])))

    code = main(["validate", "--previous", str(before), "-f", str(after)])

    lines = capsys.readouterr().out.splitlines()
    if case.get("accepted"):
        assert (code, lines) == (0, [f"{after}[0]: AirflowCluster minimal is valid"])
    else:
        assert code == 1
        assert lines == [f"{after}[0]: {case['field']}: {identity_message(case['field'])}"]


def test_every_identity_rule_has_a_case() -> None:
    fields = {case.get("field") for case in IDENTITY_CASES}
    assert {"spec." + ".".join(rule.path) for rule in IDENTITY} <= fields
