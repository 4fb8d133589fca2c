"""The AirflowCluster CRD on a real API server: accepted, validating with CEL, explained."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import config

from farflow.kube.client import Kube
from farflow.upgrade import ensure_crd
from tests.cases import (
    ALL_EXAMPLES,
    MINIMAL,
    ROOT,
    identity_changes,
    identity_message,
    invalid_cases,
    invalid_manifest,
    load,
    merged,
)
from tests.controlplane.localcluster import LocalCluster
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.cluster
CRD = ROOT / "crds" / "airflowcluster.yaml"
API_CASES = [case for case in invalid_cases() if case["api_error"] is not None]
IDENTITY_CASES = identity_changes()


def crd_schema() -> dict[str, Any]:
    crd = next(doc for doc in yaml.safe_load_all(CRD.read_text()) if doc)
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def walk(schema: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in ``schema``, depth first."""
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from walk(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from walk(value)


def dry_run_create(
    cluster: LocalCluster, namespace: str, manifest: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl(
        "-n",
        namespace,
        "create",
        "--dry-run=server",
        "-f",
        "-",
        input=yaml.safe_dump(manifest),
        check=False,
    )


def test_crd_is_established(local_cluster: LocalCluster, crd: None) -> None:
    established = local_cluster.kubectl(
        "get",
        "crd/airflowclusters.farflow.io",
        "-o",
        "jsonpath={.status.conditions[?(@.type=='Established')].status}",
    )
    assert established.stdout == "True"
    local_cluster.kubectl("get", "af", "--all-namespaces")  # the short name is served


def test_examples_are_accepted(local_cluster: LocalCluster, namespace: str, crd: None) -> None:
    local_cluster.kubectl("-n", namespace, "apply", "-f", str(ROOT / "examples"))

    listed = local_cluster.kubectl("-n", namespace, "get", "airflowclusters", "-o", "name")
    expected = {
        f"airflowcluster.farflow.io/{load(path)['metadata']['name']}" for path in ALL_EXAMPLES
    }
    assert set(listed.stdout.split()) == expected


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=lambda path: path.stem)
def test_examples_pass_server_side_validation(
    local_cluster: LocalCluster, module_namespace: str, crd: None, example: Any
) -> None:
    result = dry_run_create(local_cluster, module_namespace, load(example))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", API_CASES, ids=[case["name"] for case in API_CASES])
def test_the_api_server_rejects_invalid_manifests(
    local_cluster: LocalCluster, module_namespace: str, crd: None, case: dict[str, Any]
) -> None:
    result = dry_run_create(local_cluster, module_namespace, invalid_manifest(case))

    assert result.returncode != 0, f"accepted: {case['patch']}"
    assert case["api_error"] in result.stderr


def apply(
    cluster: LocalCluster, namespace: str, manifest: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(manifest), check=False
    )


@pytest.mark.parametrize(
    ("index", "case"),
    list(enumerate(IDENTITY_CASES)),
    ids=[case["name"] for case in IDENTITY_CASES],
)
def test_the_api_server_refuses_to_change_an_identity(
    local_cluster: LocalCluster, module_namespace: str, crd: None, index: int, case: dict[str, Any]
) -> None:
    named = merged(load(MINIMAL), {"metadata": {"name": f"identity-{index}"}})
    created = apply(local_cluster, module_namespace, merged(named, case["before"]))
    assert created.returncode == 0, created.stderr

    result = apply(local_cluster, module_namespace, merged(named, case["after"]))

    if case.get("accepted"):
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0, f"accepted: {case['after']}"
        assert f"{case['field']}: Invalid value" in result.stderr
        assert identity_message(case["field"]) in result.stderr


def test_every_cel_rule_has_a_rejected_case() -> None:
    messages = {
        rule["message"]
        for node in walk(crd_schema())
        for rule in node.get("x-kubernetes-validations", [])
    }
    api_errors = [case["api_error"] for case in API_CASES]
    api_errors += [identity_message(case["field"]) for case in IDENTITY_CASES if "field" in case]
    uncovered = sorted(m for m in messages if not any(m in error for error in api_errors))
    assert messages
    assert not uncovered, "CEL rules no case checks:\n" + "\n".join(uncovered)


def test_explain_shows_the_crd_descriptions(local_cluster: LocalCluster, crd: None) -> None:
    workers = crd_schema()["properties"]["spec"]["properties"]["workers"]
    descriptions = [workers["description"]]
    descriptions += [field["description"] for field in workers["properties"].values()]

    def explained() -> str:
        # The CRD reaches the published OpenAPI a moment after it is Established.
        result = local_cluster.kubectl("explain", "airflowcluster.spec.workers", check=False)
        return result.stdout if result.returncode == 0 else ""

    wait_until(lambda: bool(explained()), 30, "kubectl explain to know AirflowCluster")
    text = " ".join(explained().split())  # explain re-wraps long descriptions
    assert [d for d in descriptions if " ".join(d.split()) not in text] == []


def test_the_operator_applies_its_crd_where_it_is_older_and_only_there(
    local_cluster: LocalCluster, crd: None
) -> None:
    """farflow.upgrade at the operator's start: nothing to write over the same CRD; an older
    one (a field missing, as before an upgrade) is replaced; a newer one is left alone."""
    kube = Kube(config.new_client_from_config(config_file=str(local_cluster.kubeconfig)))
    name = "airflowclusters.farflow.io"
    field = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/suspend"

    def older(version: str) -> None:
        patch = [
            {"op": "remove", "path": field},
            {
                "op": "replace",
                "path": "/metadata/annotations/farflow.io~1version",
                "value": version,
            },
        ]
        local_cluster.kubectl("patch", "crd", name, "--type=json", "-p", json.dumps(patch))

    def has_field() -> bool:
        live = json.loads(local_cluster.kubectl("get", "crd", name, "-o", "json").stdout)
        spec = live["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        return "suspend" in spec["properties"]

    try:
        assert ensure_crd(kube) is False  # kubectl applied the same CRD
        older("0.0.1")
        assert ensure_crd(kube) is True
        assert has_field()
        assert ensure_crd(kube) is False  # settled: no write at the next start
        older("99.0.0")  # as a newer FarFlow's CRD, which this release cannot know
        assert ensure_crd(kube) is False
        assert not has_field()
    finally:
        local_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
