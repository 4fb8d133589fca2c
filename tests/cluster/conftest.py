"""The cluster tier's fixtures: a real local control plane (tests/controlplane) and namespaces.

The control plane runs in a temporary state directory on free ports, so it never clashes
with a developer's `make cluster-up` (which uses .farflow/).
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.controlplane.localcluster import (
    REPO_ROOT,
    LocalCluster,
    down,
    missing_binaries,
    up,
)


@pytest.fixture(scope="session")
def controlplane_binaries() -> None:
    """.farflow/bin complete, built by tests/controlplane/build.sh if it is not."""
    if missing_binaries():
        subprocess.run(["bash", str(REPO_ROOT / "tests/controlplane/build.sh")], check=True)


@pytest.fixture(scope="session")
def local_cluster(
    controlplane_binaries: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCluster]:
    """etcd, kube-apiserver, -controller-manager, -scheduler and kwok with 3 Fargate nodes."""
    state_dir = tmp_path_factory.mktemp("controlplane")
    cluster = up(state_dir)  # stops whatever it started if it fails
    try:
        yield cluster
    finally:
        down(state_dir)


@pytest.fixture
def namespace(local_cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    yield from temporary_namespace(local_cluster, request.node.name)


@pytest.fixture(scope="module")
def module_namespace(local_cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace shared by the tests of one module, for many cheap checks."""
    yield from temporary_namespace(local_cluster, request.module.__name__.rsplit(".", 1)[-1])


def temporary_namespace(cluster: LocalCluster, label: str) -> Iterator[str]:
    """A namespace named after ``label``, for as long as the caller iterates; then deleted."""
    name = _namespace_name(label)
    cluster.kubectl("create", "namespace", name)
    try:
        # Pods are rejected until the namespace's default ServiceAccount exists.
        cluster.kubectl(
            "-n", name, "wait", "--for=create", "--timeout=60s", "serviceaccount/default"
        )
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _namespace_name(label: str) -> str:
    """A valid, unique namespace name that still says which test made it."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40].rstrip("-")
    return f"{slug or 'test'}-{uuid.uuid4().hex[:6]}"
