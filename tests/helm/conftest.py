"""The Helm tier's fixtures: Helm built from its Go module, checkov in a venv of its own, and
the shared local control plane (tests/fixtures/controlplane.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cases import ROOT

CHART = ROOT / "charts" / "farflow-operator"
VALUES = Path(__file__).with_name("values")
KUBE_VERSION = "1.36.3"  # the local control plane's (tests/controlplane)
# checkov pins dozens of packages (boto3 among them) that fight the project's lock, so it
# runs from a venv of its own, cached per version like the control plane's binaries.
CHECKOV_VERSION = "3.3.30"


@dataclass(frozen=True)
class Helm:
    binary: Path

    def run(
        self, *args: str, check: bool = True, kubeconfig: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binary), *args]
        if kubeconfig is not None:
            argv.append(f"--kubeconfig={kubeconfig}")
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def template(self, values: Path) -> str:
        """The chart rendered as Helm renders it for `helm install farflow -n airflow`."""
        return self.run(
            "template", "farflow", str(CHART), "--namespace", "airflow",
            "--kube-version", KUBE_VERSION, "--values", str(values),
        ).stdout  # fmt: skip


def documents(rendered: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(rendered) if document]


@pytest.fixture(scope="session")
def helm() -> Helm:
    """.farflow/bin/helm, built by tests/controlplane/helm/build.sh (cached after the first)."""
    subprocess.run(["bash", str(ROOT / "tests/controlplane/helm/build.sh")], check=True)
    return Helm(ROOT / ".farflow" / "bin" / "helm")


@pytest.fixture(scope="session")
def checkov() -> Path:
    """The checkov executable of a pinned version, installed once into a cached venv."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    venv = cache / "farflow" / f"checkov-{CHECKOV_VERSION}"
    done = venv / ".installed"  # written last: a half-made venv is made again
    if not done.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin/python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", f"checkov=={CHECKOV_VERSION}"],
            check=True,
        )  # fmt: skip
        done.touch()
    return venv / "bin" / "checkov"


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> dict[str, str]:
    """Each values file of tests/helm/values, rendered."""
    return {path.stem: helm.template(path) for path in sorted(VALUES.glob("*.yaml"))}
