"""`helm upgrade` to a FarFlow release whose CRD has a new field, on the real API server.

Helm installs the CRDs of a chart's crds/ folder once and leaves them on every upgrade, so
the new field would be pruned from each AirflowCluster without a word. The upgraded
operator applies its own CRD when it starts (farflow.upgrade), with the chart's RBAC. The
next release is made here from this one: the chart with a new version, and the operator's
source with one more spec field, run from its own copy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cases import MINIMAL, ROOT, load, merged
from tests.fixtures.controlplane import temporary_namespace
from tests.fixtures.operator import RESYNC_SECONDS, wait_for
from tests.helm.conftest import CHART, Helm
from tests.helm.test_install import (
    OBSERVABILITY,
    RELEASE,
    assert_nothing_forbidden,
    operator_with_the_charts_rights,
    remove_unmanaged_task_roles,
)

pytestmark = pytest.mark.helm

CRD = "airflowclusters.farflow.io"
NEW_FIELD = "nextReleaseSetting"
NEW_MODEL_FIELD = (
    '    next_release_setting: str | None = Field(None, description="A setting of a next '
    'release.")\n'
)


def next_release(work: Path) -> tuple[Path, Path]:
    """The next release's chart and operator source: one more spec field."""
    source = work / "operator"
    shutil.copytree(ROOT / "operator" / "farflow", source / "farflow")
    spec = source / "farflow" / "api" / "spec.py"
    anchor = "    suspend: bool = Field("
    spec.write_text(spec.read_text().replace(anchor, NEW_MODEL_FIELD + anchor, 1))
    chart = work / "chart"
    shutil.copytree(CHART, chart)
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
    metadata |= {"version": "0.1.1", "appVersion": "0.1.1"}
    (chart / "Chart.yaml").write_text(yaml.safe_dump(metadata))
    generated = subprocess.run(
        [sys.executable, "-m", "farflow.cli", "crd"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        check=True,
    )
    (chart / "crds" / "airflowcluster.yaml").write_text(generated.stdout)
    return chart, source


def spec_fields(local_cluster: Any) -> set[str]:
    live = json.loads(local_cluster.kubectl("get", "crd", CRD, "-o", "json").stdout)
    schema = live["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return set(schema["properties"]["spec"]["properties"])


@pytest.fixture
def namespaces(local_cluster: Any) -> Iterator[tuple[str, str]]:
    """The release's namespace, and one it does not watch (for an object no operator
    handles, to see what the API server stores)."""
    local_cluster.kubectl("create", "namespace", OBSERVABILITY, check=False)  # values.yaml
    release = temporary_namespace(local_cluster, "helm-upgrade")
    unwatched = temporary_namespace(local_cluster, "helm-upgrade-unwatched")
    yield next(release), next(unwatched)
    next(unwatched, None)
    next(release, None)


def test_upgrading_to_a_release_with_a_new_crd_field_stores_that_field(
    helm: Helm,
    local_cluster: Any,
    namespaces: tuple[str, str],
    moto_server: dict[str, str],
    tmp_path: Path,
) -> None:
    namespace, unwatched = namespaces
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump({"watchNamespaces": [namespace], "resyncSeconds": RESYNC_SECONDS})
    )
    chart, source = next_release(tmp_path)
    kubeconfig = local_cluster.kubeconfig
    remove_unmanaged_task_roles(local_cluster)
    helm.run(
        "install", RELEASE, str(CHART), "--namespace", namespace, "--values", str(values),
        "--wait", "--timeout", "3m", kubeconfig=kubeconfig,
    )  # fmt: skip
    try:
        helm.run(
            "upgrade", RELEASE, str(chart), "--namespace", namespace, "--values", str(values),
            "--wait", "--timeout", "3m", kubeconfig=kubeconfig,
        )  # fmt: skip
        assert NEW_FIELD not in spec_fields(local_cluster)  # Helm left crds/ as it was
        operator = operator_with_the_charts_rights(
            local_cluster, namespace, ["--namespace", namespace],
            {**moto_server, "PYTHONPATH": str(source)}, tmp_path,
        )  # fmt: skip
        operator.start()  # the next release's operator, with the chart's ServiceAccount
        try:
            wait_for(lambda: NEW_FIELD in spec_fields(local_cluster), 60, "the new CRD applied")
            assert_nothing_forbidden(local_cluster, namespace, tmp_path / "operator.log")
        finally:
            operator.process.stop()
        stored = store_with_the_new_field(local_cluster, unwatched)
        assert stored["spec"][NEW_FIELD] == "kept"
    finally:
        helm.run("uninstall", RELEASE, "--namespace", namespace, "--wait", check=False,
                 kubeconfig=kubeconfig)  # fmt: skip
        local_cluster.kubectl("-n", unwatched, "delete", "af", "--all", "--wait=false")
        # This release's CRD again, for the tests that follow on the shared control plane.
        crd_file = str(ROOT / "crds" / "airflowcluster.yaml")
        local_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", crd_file)


def store_with_the_new_field(local_cluster: Any, namespace: str) -> dict[str, Any]:
    manifest = merged(load(MINIMAL), {"spec": {NEW_FIELD: "kept"}})
    local_cluster.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(manifest))
    stored: dict[str, Any] = json.loads(
        local_cluster.kubectl("-n", namespace, "get", "af", "minimal", "-o", "json").stdout
    )
    return stored
