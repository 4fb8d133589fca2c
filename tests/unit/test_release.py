"""The release workflow publishes the images the code names: the operator image the chart
runs, and FarFlow's Airflow image, the default spec.airflow.image, after checking it imports
every module the rendered configuration needs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from farflow.api import parse, resolve
from farflow.api.spec import DEFAULT_AIRFLOW_VERSION, FARFLOW_AIRFLOW_IMAGE
from tests.cases import MINIMAL, ROOT, load
from tests.e2e.test_dags import base_image_tags

pytestmark = pytest.mark.unit
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
CHART = ROOT / "charts" / "farflow-operator"


def workflow() -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    loaded["on"] = loaded.pop(True)  # YAML 1.1 reads the key `on` as true
    return loaded


def runs() -> str:
    return "\n".join(step.get("run", "") for step in workflow()["jobs"]["images"]["steps"])


def test_a_published_release_publishes_both_images() -> None:
    loaded = workflow()
    assert loaded["on"] == {"release": {"types": ["published"]}}
    assert loaded["permissions"] == {"contents": "read", "packages": "write"}
    script = runs()
    assert "docker build -f airflow/Dockerfile" in script
    assert "docker build -f operator/Dockerfile" in script
    assert 'docker push --all-tags "$AIRFLOW_IMAGE"' in script
    assert 'docker push "$OPERATOR_IMAGE:$VERSION"' in script


def test_the_default_image_is_farflows_own_as_the_release_tags_it() -> None:
    """Every cluster that names no image runs <AIRFLOW_IMAGE>:<Airflow version>, which the
    release builds from airflow/Dockerfile, whose base is that Airflow version."""
    image = resolve(parse(load(MINIMAL))).spec.airflow.image
    assert image.reference == f"{FARFLOW_AIRFLOW_IMAGE}:{DEFAULT_AIRFLOW_VERSION}"
    assert workflow()["env"]["AIRFLOW_IMAGE"] == FARFLOW_AIRFLOW_IMAGE
    assert '-t "$AIRFLOW_IMAGE:$AIRFLOW_VERSION"' in runs()
    assert base_image_tags() == {f"{DEFAULT_AIRFLOW_VERSION}-python3.11"}


def test_the_operator_image_is_the_one_the_chart_runs() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert workflow()["env"]["OPERATOR_IMAGE"] == values["image"]["repository"]
    assert values["image"]["tag"] == ""  # the chart's appVersion: the release's version
    assert 'grep -qx "appVersion: \\"$version\\"" charts/farflow-operator/Chart.yaml' in runs()
    assert chart["appVersion"] == chart["version"]


def test_nothing_is_pushed_before_the_airflow_image_passes_farflows_preflight() -> None:
    steps = workflow()["jobs"]["images"]["steps"]
    names = [step.get("name", step.get("uses")) for step in steps]
    check = names.index("The Airflow image imports every module that configuration needs")
    assert check < names.index("Push both")
    command = steps[check]["run"]
    assert "python -m farflow_preflight" in command
    assert "operator/farflow/runtime:/opt/farflow" in command  # the modules the ConfigMap ships
