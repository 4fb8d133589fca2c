"""`farflow validate` rejects each invalid manifest with a message naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from farflow.cli import main
from tests.cases import invalid_cases, invalid_manifest

pytestmark = pytest.mark.unit
CASES = invalid_cases()


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
