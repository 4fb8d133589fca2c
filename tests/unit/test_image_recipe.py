"""FarFlow's Airflow image (airflow/Dockerfile) installs every module the rendered Airflow
configuration makes Airflow import (farflow.plan.imports, the list the workers' preflight
checks in the cluster), and every module FarFlow's runtime modules import.

Without building the image: each module's file is found in this environment (synced from the
same lock the image installs from) without importing it, the distribution that installed the
file is looked up, and it must be among airflow/requirements.txt's pins."""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from farflow.runtime import sources
from tests.unit.planning import planned
from tests.unit.test_dockerfile import REQUIREMENTS

pytestmark = pytest.mark.unit

ECS = {
    "cluster": {"create": True},
    "subnets": ["subnet-0a1b2c3d4e5f60718"],
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecs-execution",
}
CLUSTERS = {
    "minimal": {},
    "every executor, S3 DAGs": {
        "airflow": {"executors": ["Celery", "Kubernetes", "Ecs"]},
        "ecs": ECS,
        "dags": {"s3": {"bucket": "dags", "create": False}, "image": None},
    },
    "Git DAGs": {"dags": {"git": {"repo": "https://github.com/example/dags"}, "image": None}},
}


def module_file(module: str) -> str:
    """The file a module is loaded from, relative to its sys.path entry (as distributions
    record their files), found as the import system would find it, without importing it."""
    *package, name = module.split(".")
    for entry in map(Path, sys.path):
        folder = entry.joinpath(*package)
        found = [folder / f"{name}.py", folder / name / "__init__.py"]
        for path in [*found, *sorted(folder.glob(f"{name}.*.so"))]:
            if path.is_file():
                return path.relative_to(entry).as_posix()
    raise AssertionError(f"{module} is not installed here")


@cache
def installed_files() -> dict[str, str]:
    """Every installed file (as its distribution records it) -> that distribution."""
    files: dict[str, str] = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        files |= dict.fromkeys(map(str, dist.files or []), name)
    return files


def installed_by_the_recipe() -> set[str]:
    """The distributions the Dockerfile installs: every pin of airflow/requirements.txt, the
    locked closure of the airflow extra (pip installs it with --no-deps, so nothing else)."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", REQUIREMENTS.read_text(), re.MULTILINE)
    return set(map(canonicalize_name, pins))


def runtime_imports() -> set[str]:
    """What farflow.runtime's modules import beyond the standard library (whole dotted
    names: a namespace package such as google has no file of its own)."""
    names = set()
    for source in sources().values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    return {name for name in names if name.split(".")[0] not in stdlib}


@pytest.mark.parametrize("patch", CLUSTERS.values(), ids=CLUSTERS)
def test_the_image_installs_every_module_the_configuration_imports(
    patch: dict[str, object],
) -> None:
    modules = {*planned({"spec": patch}).required_modules, *runtime_imports()}
    providers = {module: installed_files()[module_file(module)] for module in modules}
    recipe = installed_by_the_recipe()
    assert {m: dist for m, dist in providers.items() if dist not in recipe} == {}


def test_the_sqs_transport_and_pycurl_are_among_them() -> None:
    """The modules apache/airflow lacks for FarFlow's default broker."""
    modules = planned().required_modules
    assert {"kombu.transport.SQS", "pycurl"} <= set(modules)
    assert installed_files()[module_file("pycurl")] in installed_by_the_recipe()
