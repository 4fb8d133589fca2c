"""The images: the operator runs the `farflow` entry point as a non-root user; the Airflow
image installs only the hash-locked packages of uv.lock."""

from __future__ import annotations

import json
import re
import subprocess
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


AIRFLOW_DOCKERFILE = ROOT / "airflow" / "Dockerfile"
REQUIREMENTS = ROOT / "airflow" / "requirements.txt"
UV = ROOT / ".farflow" / "tools" / "bin" / "uv"


def make_variable(name: str) -> str:
    """A ``NAME := value`` of the Makefile, so the test exports exactly what make does."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith(f"{name} :="):
            return line.split(":=", 1)[1].strip()
    raise AssertionError(f"the Makefile defines no {name}")


def airflow_pip_commands() -> list[str]:
    text = re.sub(r"\\\n", " ", AIRFLOW_DOCKERFILE.read_text())
    runs = [line.strip() for line in text.splitlines() if line.startswith("RUN ")]
    return [c for run in runs for c in run.split("&&") if re.search(r"\bpip (install|wheel)\b", c)]


def test_airflow_requirements_are_the_lock_with_hashes() -> None:
    """`make requirements` was run after uv.lock last changed."""
    exported = subprocess.run(
        [str(UV), *make_variable("AIRFLOW_REQUIREMENTS").split()],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    assert REQUIREMENTS.read_text() == exported, (
        "airflow/requirements.txt drifted: run make requirements"
    )
    pins = [line for line in exported.splitlines() if line[:1].isalnum()]
    assert len(pins) > 100
    assert all("==" in pin for pin in pins)
    assert exported.count("--hash=sha256:") >= len(pins)


def test_the_airflow_image_installs_nothing_unhashed() -> None:
    """Every pip command installs hash-checked files: the lock, or the wheel the build stage
    made from the lock's hash-checked pycurl sdist (no index reached)."""
    commands = airflow_pip_commands()
    assert len(commands) == 3
    for command in commands:
        assert "--require-hashes" in command or "--no-index" in command, command
        assert '"' not in command, f"a requirement outside the lock: {command}"
    assert any("--requirement /tmp/requirements.txt" in command for command in commands)
    mounts = re.findall(r"source=airflow/requirements\.txt", AIRFLOW_DOCKERFILE.read_text())
    assert len(mounts) == 2  # the build stage (pycurl's sdist) and the install
