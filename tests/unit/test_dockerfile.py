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


def test_the_build_context_holds_what_the_image_copies_and_nothing_else() -> None:
    """The context is the repository root: operator/Dockerfile.dockerignore excludes all
    (no .venv, .git, .farflow or tests sent to the builder) but what COPY reads."""
    ignore = (ROOT / "operator" / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line for line in ignore if line and not line.startswith("#")]
    assert patterns[0] == "*"
    let_in = {pattern.removeprefix("!").rstrip("/") for pattern in patterns if pattern[0] == "!"}
    copied = {
        source.rstrip("/")
        for copy in instructions("COPY")
        if not copy.startswith("--from")
        for source in copy.split()[:-1]
    }
    assert copied == {"pyproject.toml", "uv.lock", "README.md", "operator"}
    assert {path.split("/")[0] for path in let_in} == copied
    assert let_in >= {"pyproject.toml", "uv.lock", "README.md", "operator/farflow"}
