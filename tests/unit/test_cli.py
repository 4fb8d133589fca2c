"""The `farflow` command: crd, validate and render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from farflow.cli import main
from tests.cases import EXAMPLES, FULL, MINIMAL, ROOT

pytestmark = pytest.mark.unit


def test_crd_prints_the_checked_in_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crd"]) == 0
    assert capsys.readouterr().out == (ROOT / "crds" / "airflowcluster.yaml").read_text()


def test_examples_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-f", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "AirflowCluster minimal is valid" in out
    assert "AirflowCluster full is valid" in out


def test_validate_reports_every_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = yaml.safe_load(MINIMAL.read_text())
    bad = {**good, "spec": {**good["spec"], "size": "tiny"}}
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump_all([good, bad, ["not", "a", "mapping"]]))

    assert main(["validate", "-f", str(path)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert f"{path}[0]: AirflowCluster minimal is valid" in out
    assert any(line.startswith(f"{path}[1]: spec.size: ") for line in out)
    assert f"{path}[2]: (document): must be a mapping (an AirflowCluster object)" in out


def test_resolve_output_is_itself_valid_and_stable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["resolve", "-f", str(MINIMAL)]) == 0
    resolved = capsys.readouterr().out
    assert yaml.safe_load(resolved)["spec"]["workers"]["concurrency"] == 5

    again = tmp_path / "resolved.yaml"
    again.write_text(resolved)
    assert main(["resolve", "-f", str(again)]) == 0
    assert capsys.readouterr().out == resolved


def test_render_prints_every_manifest_of_the_full_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert main(["render", "-f", str(FULL), "--account-id", "123456789012"]) == 0
    objects = list(yaml.safe_load_all(capsys.readouterr().out))
    deployments = [o["metadata"]["name"] for o in objects if o and o["kind"] == "Deployment"]
    assert deployments == [
        "full-api-server",
        "full-metrics",  # spec.metrics' collector, in the API server's stage
        "full-scheduler",
        "full-dag-processor",
        "full-triggerer",
        "full-worker",
        "full-worker-large",
    ]
    by_key = {(o["kind"], o["metadata"]["name"]): o for o in objects if o}
    assert {name for kind, name in by_key if kind == "ConfigMap"} == {
        "full-airflow-config",
        "full-runtime",
        "full-pod-template",
    }
    config = by_key["ConfigMap", "full-airflow-config"]["data"]
    assert "123456789012" in config["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"]
    assert_the_metrics_collector(by_key, config)
    ecs = json.loads(config["AIRFLOW_VAR_FARFLOW_ECS"])
    assert (ecs["awslogs_group"], ecs["awslogs_stream_prefix"]) == (
        "/farflow/data-platform/full",
        "ecs/task",
    )
    # The example's Kubernetes executor reads its pod template in the scheduler.
    scheduler = by_key["Deployment", "full-scheduler"]["spec"]["template"]["spec"]
    assert scheduler["volumes"] == [
        {"name": "farflow-runtime", "configMap": {"name": "full-runtime"}},
        {"name": "pod-template", "configMap": {"name": "full-pod-template"}},
    ]


def test_render_without_cloudwatch_gives_ecs_tasks_no_log_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = yaml.safe_load(FULL.read_text())
    cluster["spec"]["logging"]["cloudwatch"]["enabled"] = False
    path = tmp_path / "no-cloudwatch.yaml"
    path.write_text(yaml.safe_dump(cluster))
    assert main(["render", "-f", str(path), "--account-id", "123456789012"]) == 0
    objects = [o for o in yaml.safe_load_all(capsys.readouterr().out) if o]
    [config] = [o["data"] for o in objects if o["metadata"]["name"] == "full-airflow-config"]
    ecs = json.loads(config["AIRFLOW_VAR_FARFLOW_ECS"])
    assert ecs["task_definition"]
    assert not [key for key in ecs if key.startswith("awslogs_")]


def test_render_without_a_region_says_where_to_set_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main(["render", "-f", str(MINIMAL)]) == 2
    assert "set spec.aws.region, or AWS_REGION for the operator" in capsys.readouterr().err


def test_resolve_refuses_an_invalid_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.read_text().replace("name: airflow-db", "name: Airflow_DB"))
    assert main(["resolve", "-f", str(path)]) == 1
    assert "spec.database.connectionSecretRef.name: must be a Kubernetes" in capsys.readouterr().err


def test_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-f", "/nonexistent/cluster.yaml"]) == 2
    assert "No such file or directory" in capsys.readouterr().err


def assert_the_metrics_collector(
    by_key: dict[tuple[str, str], Any], config: dict[str, str]
) -> None:
    """Airflow pushes its metrics to the collector's Service; the collector reads none of
    the Airflow Secrets and its queue depths are the cluster's queues."""
    assert config["AIRFLOW__METRICS__OTEL_ON"] == "True"
    assert config["AIRFLOW__METRICS__LEGACY_NAMES_ON"] == "False"
    endpoint = "http://full-metrics.default.svc.cluster.local:4318/v1/metrics"
    assert config["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] == endpoint
    assert config["OTEL_METRIC_EXPORT_INTERVAL"] == "10000"  # several per write of 60 s
    assert by_key["Service", "full-metrics"]["spec"]["ports"][0]["port"] == 4318
    pod = by_key["Deployment", "full-metrics"]["spec"]["template"]["spec"]
    [collector] = pod["containers"]
    assert "initContainers" not in pod
    assert all("valueFrom" not in entry for entry in collector["env"])
    env = {entry["name"]: entry["value"] for entry in collector["env"]}
    assert env["FARFLOW_METRICS_CLUSTER"] == "default/full"
    assert (env["FARFLOW_METRICS_NAMESPACE"], env["FARFLOW_METRICS_INTERVAL"]) == ("FarFlow", "60")
    assert len(env["FARFLOW_METRICS_QUEUES"].split(",")) == 3
    assert collector["resources"]["limits"] == {"cpu": "250m", "memory": "256Mi"}
