"""The checked-in CRD is the one the models generate, and it is a sound structural schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from farflow.api import spec as spec_module
from farflow.api.crd import crd
from farflow.api.rules import SpecModel
from tests.cases import ROOT

pytestmark = pytest.mark.unit
CHECKED_IN = ROOT / "crds" / "airflowcluster.yaml"
FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "uniqueItems", "const"}


def schema() -> dict[str, Any]:
    version = crd()["spec"]["versions"][0]
    root: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return root


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def test_checked_in_crd_matches_the_models() -> None:
    assert yaml.safe_load(CHECKED_IN.read_text()) == crd(), (
        "crds/airflowcluster.yaml drifted: run `farflow crd > crds/airflowcluster.yaml`"
    )


def test_identity_of_the_resource() -> None:
    spec = crd()["spec"]
    assert (spec["group"], spec["scope"], spec["names"]["shortNames"]) == (
        "farflow.io",
        "Namespaced",
        ["af"],
    )
    version = spec["versions"][0]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    columns = [column["name"] for column in version["additionalPrinterColumns"]]
    assert columns == ["Phase", "Airflow", "Workers", "URL", "Age"]


def test_schema_is_structural() -> None:
    for path, node in walk(schema()):
        assert not FORBIDDEN & node.keys(), f"{path} carries {FORBIDDEN & node.keys()}"
        assert "type" in node, f"{path} has no type"
        assert node.get("additionalProperties") is not False, path


def test_every_spec_field_is_described() -> None:
    spec = schema()["properties"]["spec"]
    undescribed = [
        path
        for path, node in walk(spec)
        if "properties" in node
        for name, child in node["properties"].items()
        if not child.get("description")
    ]
    assert undescribed == []


def test_defaults_are_only_scalars() -> None:
    for path, node in walk(schema()):
        assert not isinstance(node.get("default"), dict), path


def test_every_rule_of_the_models_is_in_the_crd() -> None:
    in_crd = {
        rule["rule"]
        for _, node in walk(schema())
        for rule in node.get("x-kubernetes-validations", [])
    }
    models = [
        m for m in vars(spec_module).values() if isinstance(m, type) and issubclass(m, SpecModel)
    ]
    for model in models:
        for rule in model.rules:
            assert rule.cel in in_crd, f"{model.__name__}: {rule.cel}"


def test_bounded_for_cel_cost() -> None:
    """CEL cost estimates need a bound on every string and list a rule reads."""
    for path, node in walk(schema()):
        for rule in node.get("x-kubernetes-validations", []):
            if node["type"] == "string":
                assert "maxLength" in node, path
            if "self.matches" in rule["rule"]:
                assert node["type"] == "string", path
