"""The operator image runs the `farflow` entry point as a non-root user."""

from __future__ import annotations

import json
import tomllib

import pytest

from farflow.cli import main
from tests.cases import ROOT

pytestmark = pytest.mark.unit
DOCKERFILE = ROOT / "operator" / "Dockerfile"


def instructions(name: str) -> list[str]:
    lines = DOCKERFILE.read_text().splitlines()
    return [line.split(maxsplit=1)[1] for line in lines if line.startswith(f"{name} ")]


def test_runs_as_a_numeric_non_root_user() -> None:
    [user] = instructions("USER")
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0


def test_entrypoint_is_the_installed_farflow_command() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    [entrypoint] = instructions("ENTRYPOINT")
    assert json.loads(entrypoint) == ["farflow"]
    assert scripts["farflow"] == "farflow.cli:main"
    [command] = instructions("CMD")
    with pytest.raises(SystemExit) as parsed:
        main([*json.loads(command), "--help"])
    assert parsed.value.code == 0


def test_installs_from_the_lock_without_airflow() -> None:
    assert "uv sync --frozen --no-dev --no-editable" in instructions("RUN")
