"""The example DAGs of airflow/dags and the Airflow image that carries them.

The DAG tests (e2e) load airflow/dags with Airflow's own DagBag in a separate Python process,
so Airflow's global configuration never enters the pytest process, with the executors the
operator writes into `[core] executor` and without any Variable: a DAG file that read one at
parse time would fail to import. The process then sets the Variables the operator and the
user provide, renders the templated operators as a task run would and prints all it saw as
JSON; the tests assert on that. No database is needed for either step.

The Dockerfile tests (unit) check the image against pyproject.toml's `airflow` extra.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from farflow.plan.config import EXECUTOR_CLASSES
from farflow.runtime import BOOTSTRAP_DIR, MODULES, RUNTIME_DIR
from tests.cases import ROOT

DAGS = ROOT / "airflow" / "dags"
DOCKERFILE = ROOT / "airflow" / "Dockerfile"
RUN_ID = "manual__2026-11-27T07:00:00+00:00"
ECS_EXECUTOR = "airflow.providers.amazon.aws.executors.ecs.ecs_executor.AwsEcsExecutor"
EXPECTED_DAGS = {
    "etl_celery": {"extract", "transform", "load"},
    "ecs_dag": {"summarise_orders"},
    "pod_dag": {"filter_orders"},
    "emr_dag": {"run_spark_job"},
    "ecs_executor_dag": {"count_orders"},
    "kubernetes_executor_dag": {"checksum"},
}
# What the operator (AIRFLOW_VAR_FARFLOW_ECS / _PODS) and the user (spec.airflow.env) provide.
VARIABLES: dict[str, Any] = {
    "farflow_ecs": {
        "cluster": "farflow-team-a-tasks",
        "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/farflow-task:3",
        "container_name": "task",
        "network_configuration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
                "securityGroups": ["sg-0123456789"],
                "assignPublicIp": "DISABLED",
            }
        },
        "region": "us-east-1",
        "awslogs_group": "/farflow/team-a/tasks",
        "awslogs_region": "us-east-1",
        "awslogs_stream_prefix": "ecs/task",  # <prefix>/<container>, as the operator writes it
    },
    "farflow_pods": {
        "namespace": "team-a-tasks",
        "service_account": "farflow-tasks",
        "labels": {"farflow.io/fargate": "true"},
    },
    "data_bucket": "farflow-example-data",
    "pod_task_image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/farflow-pod-task:1.0",
    "emr_serverless": {
        "application_id": "00fabcdefghij012",
        "execution_role_arn": "arn:aws:iam::123456789012:role/farflow-emr-job",
        "entry_point": "s3://farflow-example-data/emr/order_totals.py",
    },
}


def probe(dag_folder: str, variables_json: str) -> None:
    """Run in the child process: parse, render, print one JSON document on the last line."""
    import warnings  # noqa: PLC0415  (like Airflow, only ever imported in the child process)

    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415

        bag = DagBag(dag_folder=dag_folder)
    caught = [
        {"category": w.category.__name__, "file": w.filename, "message": str(w.message)}
        for w in recorded
    ]
    report: dict[str, Any] = {
        "import_errors": {Path(k).name: v for k, v in bag.import_errors.items()},
        "captured_warnings": {Path(k).name: list(v) for k, v in bag.captured_warnings.items()},
        "warnings": caught,
        "dags": {dag_id: _describe(dag) for dag_id, dag in bag.dags.items()},
    }
    if not bag.import_errors:
        report |= _as_the_dag_processor_stores_them(dag_folder, bag)
        # Only now do the Variables exist: parsing above must not have needed them.
        for key, value in json.loads(variables_json).items():
            text = value if isinstance(value, str) else json.dumps(value)
            os.environ[f"AIRFLOW_VAR_{key.upper()}"] = text
        report["rendered"] = _render(bag)
        report["results"] = _run_pure_tasks(bag)
    print(json.dumps(report, default=str))


def _as_the_dag_processor_stores_them(dag_folder: str, bag: Any) -> dict[str, Any]:
    """The DAG processor serializes every DAG it parsed and, before parsing, checks each file
    for values that vary from parse to parse (each would make a new DAG version)."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415
    from airflow.serialization.serialized_objects import DagSerialization  # noqa: PLC0415
    from airflow.utils.dag_version_inflation_checker import (  # noqa: PLC0415
        check_dag_file_stability,
    )

    def serialized(dags: dict[str, Any]) -> dict[str, str]:
        return {
            dag_id: json.dumps(DagSerialization.to_dict(dag), sort_keys=True, default=str)
            for dag_id, dag in dags.items()
        }

    first, second = serialized(bag.dags), serialized(DagBag(dag_folder=dag_folder).dags)
    return {
        "serialized_the_same_twice": {
            dag_id: first[dag_id] == second.get(dag_id) for dag_id in first
        },
        "varying_values": {
            path.name: checked.format_warnings()
            for path in sorted(Path(dag_folder).glob("*.py"))
            if (checked := check_dag_file_stability(str(path))).warnings
        },
    }


def _describe(dag: Any) -> dict[str, Any]:
    return {
        "file": Path(dag.fileloc).name,
        "tags": sorted(dag.tags),
        "schedule": dag.schedule,
        "catchup": dag.catchup,
        "doc_md": dag.doc_md,
        "tasks": {
            task.task_id: {
                "operator": type(task).__name__,
                "owner": task.owner,
                "retries": task.retries,
                "retry_delay": task.retry_delay.total_seconds(),
                "executor": task.executor,
                "upstream": sorted(task.upstream_task_ids),
                "deferrable": getattr(task, "deferrable", None),
                "template_fields": list(task.template_fields),
            }
            for task in dag.tasks
        },
    }


def _render(bag: Any) -> dict[str, Any]:
    """Each templated operator's fields after rendering, as a task run renders them."""
    from airflow.sdk.execution_time.context import VariableAccessor  # noqa: PLC0415
    from kubernetes.client import ApiClient  # noqa: PLC0415

    context = {
        "var": {"value": VariableAccessor(False), "json": VariableAccessor(True)},
        "run_id": RUN_ID,
    }
    ecs_task = bag.dags["ecs_dag"].get_task("summarise_orders")
    awslogs = {f: getattr(ecs_task, f) for f in ecs_task.template_fields if "awslogs_" in f}
    rendered: dict[str, Any] = {}
    for dag_id in ("ecs_dag", "pod_dag", "emr_dag"):
        for task in bag.dags[dag_id].tasks:
            task.render_template_fields(context)
            rendered[f"{dag_id}.{task.task_id}"] = {
                field: getattr(task, field) for field in task.template_fields
            }
    # A cluster without CloudWatch logging: farflow_ecs has no awslogs fields.
    ecs = json.loads(os.environ["AIRFLOW_VAR_FARFLOW_ECS"])
    os.environ["AIRFLOW_VAR_FARFLOW_ECS"] = json.dumps(
        {k: v for k, v in ecs.items() if not k.startswith("awslogs_")}
    )
    rendered["ecs_dag.without_awslogs"] = {
        field: ecs_task.render_template(template, context) for field, template in awslogs.items()
    }
    pod_task = bag.dags["pod_dag"].get_task("filter_orders")
    pod = pod_task.build_pod_request_obj(None, dry_run=True)
    rendered["pod_dag.pod"] = ApiClient().sanitize_for_serialization(pod)
    return rendered


def _run_pure_tasks(bag: Any) -> dict[str, Any]:
    """The TaskFlow functions that need no AWS, called directly."""
    rows = [
        {"order_id": "1", "customer": "acme", "amount": "120.50"},
        {"order_id": "2", "customer": "globex", "amount": "80.00"},
        {"order_id": "3", "customer": "acme", "amount": "15.25"},
        {"order_id": "4", "customer": "initech", "amount": "2400"},
    ]
    transform = bag.dags["etl_celery"].get_task("transform").python_callable
    checksum = bag.dags["kubernetes_executor_dag"].get_task("checksum").python_callable
    return {"transform": transform(rows), "checksum": checksum()}


def run_probe(airflow_home: Path, executors: str) -> dict[str, Any]:
    """``probe`` in a fresh interpreter, with a throwaway AIRFLOW_HOME and no DAG examples."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "AWS_"))  # no Variable, connection or config leaks in
    }
    env |= {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": executors,
        "PYTHONPATH": str(ROOT),
    }
    code = "import sys; from tests.e2e.test_dags import probe; probe(sys.argv[1], sys.argv[2])"
    result = subprocess.run(
        [sys.executable, "-c", code, str(DAGS), json.dumps(VARIABLES)],
        cwd=airflow_home,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    report["airflow_home"] = sorted(p.name for p in airflow_home.iterdir())
    return report


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The DAGs parsed with every executor FarFlow can configure, as the operator writes them."""
    return run_probe(tmp_path_factory.mktemp("airflow-home"), ",".join(EXECUTOR_CLASSES.values()))


def tasks_of(parsed: dict[str, Any], dag_id: str) -> dict[str, dict[str, Any]]:
    tasks: dict[str, dict[str, Any]] = parsed["dags"][dag_id]["tasks"]
    return tasks


# --- DAG integrity ---------------------------------------------------------------------------


@pytest.mark.e2e
def test_every_dag_file_imports_without_errors_or_warnings(parsed: dict[str, Any]) -> None:
    assert parsed["import_errors"] == {}
    assert parsed["captured_warnings"] == {}
    assert parsed["warnings"] == []


@pytest.mark.e2e
def test_every_dag_serializes_the_same_on_every_parse(parsed: dict[str, Any]) -> None:
    """No value that changes between parses (a new DAG version each time) reaches the stored
    DAG, and Airflow's own check of the files finds none either."""
    assert parsed["serialized_the_same_twice"] == dict.fromkeys(EXPECTED_DAGS, True)
    assert parsed["varying_values"] == {}


@pytest.mark.e2e
def test_parsing_needs_no_database(parsed: dict[str, Any]) -> None:
    assert not [name for name in parsed["airflow_home"] if name.endswith(".db")]


@pytest.mark.e2e
def test_the_dag_ids_and_task_ids_are_the_contract(parsed: dict[str, Any]) -> None:
    assert {dag_id: set(dag["tasks"]) for dag_id, dag in parsed["dags"].items()} == EXPECTED_DAGS
    assert {dag["file"] for dag in parsed["dags"].values()} == {
        f"{dag_id}.py" for dag_id in EXPECTED_DAGS
    }


@pytest.mark.e2e
def test_every_task_has_an_owner_and_retries(parsed: dict[str, Any]) -> None:
    for dag_id in EXPECTED_DAGS:
        for task_id, task in tasks_of(parsed, dag_id).items():
            assert task["owner"] not in ("", "airflow"), f"{dag_id}.{task_id}"
            assert task["retries"] >= 1, f"{dag_id}.{task_id}"
            assert task["retry_delay"] > 0, f"{dag_id}.{task_id}"


@pytest.mark.e2e
def test_every_dag_has_tags_docs_and_runs_only_when_triggered(parsed: dict[str, Any]) -> None:
    for dag_id, dag in parsed["dags"].items():
        assert "farflow" in dag["tags"], dag_id
        assert dag_id in (dag["doc_md"] or ""), dag_id
        assert dag["schedule"] is None, dag_id
        assert dag["catchup"] is False, dag_id


@pytest.mark.e2e
def test_etl_celery_is_extract_transform_load(parsed: dict[str, Any]) -> None:
    tasks = tasks_of(parsed, "etl_celery")
    assert tasks["extract"]["upstream"] == []
    assert tasks["transform"]["upstream"] == ["extract"]
    assert tasks["load"]["upstream"] == ["transform"]
    assert all(task["executor"] is None for task in tasks.values())  # the default: Celery


@pytest.mark.e2e
def test_etl_celery_totals_per_customer_exactly(parsed: dict[str, Any]) -> None:
    assert parsed["results"]["transform"] == {
        "customers": {
            "acme": {"orders": 2, "total": "135.75"},
            "globex": {"orders": 1, "total": "80.00"},
            "initech": {"orders": 1, "total": "2400.00"},
        },
        "orders": 4,
        "total": "2615.75",
    }


@pytest.mark.e2e
def test_executor_dags_name_the_executors_the_operator_configures(
    parsed: dict[str, Any],
) -> None:
    [ecs_task] = tasks_of(parsed, "ecs_executor_dag").values()
    [kubernetes_task] = tasks_of(parsed, "kubernetes_executor_dag").values()
    assert ecs_task["executor"] == ECS_EXECUTOR == EXECUTOR_CLASSES["Ecs"]
    assert kubernetes_task["executor"] == "KubernetesExecutor" == EXECUTOR_CLASSES["Kubernetes"]


@pytest.mark.e2e
def test_executor_dags_do_not_load_where_their_executor_is_not_configured(
    tmp_path: Path,
) -> None:
    """The DagBag really matches executor= against [core] executor (by alias, module path
    or class name): with Celery alone, exactly the two executor DAGs fail, and say why."""
    report = run_probe(tmp_path, EXECUTOR_CLASSES["Celery"])
    assert set(report["import_errors"]) == {"ecs_executor_dag.py", "kubernetes_executor_dag.py"}
    assert ECS_EXECUTOR in report["import_errors"]["ecs_executor_dag.py"]
    assert "KubernetesExecutor" in report["import_errors"]["kubernetes_executor_dag.py"]


@pytest.mark.e2e
def test_kubernetes_executor_task_returns_a_checksum_and_its_host(parsed: dict[str, Any]) -> None:
    result = parsed["results"]["checksum"]
    assert re.fullmatch(r"[0-9a-f]{64}", result["sha256"])
    assert result["bytes"] > 0
    assert result["hostname"]


# --- Rendering with the Variables --------------------------------------------------------------


@pytest.mark.e2e
def test_ecs_dag_renders_everything_from_the_variables(parsed: dict[str, Any]) -> None:
    [task] = tasks_of(parsed, "ecs_dag").values()
    assert task["operator"] == "EcsRunTaskOperator"
    assert task["deferrable"] is False
    ecs = VARIABLES["farflow_ecs"]
    fields = parsed["rendered"]["ecs_dag.summarise_orders"]
    assert fields["cluster"] == ecs["cluster"]
    assert fields["task_definition"] == ecs["task_definition"]
    assert fields["launch_type"] == "FARGATE"
    # A dict, as RunTask takes it, not its string form: hence native rendering.
    assert fields["network_configuration"] == ecs["network_configuration"]
    assert fields["container_name"] == ecs["container_name"]
    for name in ("awslogs_group", "awslogs_region", "awslogs_stream_prefix"):
        assert fields[name] == ecs[name]
    # Without them (no CloudWatch logging) the operator only waits for the task: no log fetcher.
    assert parsed["rendered"]["ecs_dag.without_awslogs"] == {
        "awslogs_group": None,
        "awslogs_region": None,
        "awslogs_stream_prefix": None,
        "awslogs_fetch_interval": "0:00:05",
    }
    bucket = VARIABLES["data_bucket"]
    assert fields["overrides"] == {
        "containerOverrides": [
            {
                "name": ecs["container_name"],
                "environment": [
                    {"name": "INPUT_URI", "value": f"s3://{bucket}/input/orders.csv"},
                    {
                        "name": "OUTPUT_URI",
                        "value": f"s3://{bucket}/output/ecs_dag/{RUN_ID}/summary.json",
                    },
                ],
            }
        ]
    }
    assert fields["wait_for_completion"] is True
    assert fields["deferrable"] is False


@pytest.mark.e2e
def test_pod_dag_renders_a_restricted_fargate_pod(parsed: dict[str, Any]) -> None:
    [task] = tasks_of(parsed, "pod_dag").values()
    assert "service_account_name" in task["template_fields"]
    pods = VARIABLES["farflow_pods"]
    pod = parsed["rendered"]["pod_dag.pod"]
    assert pod["metadata"]["namespace"] == pods["namespace"]
    assert pod["metadata"]["labels"].items() >= pods["labels"].items()
    spec = pod["spec"]
    assert spec["serviceAccountName"] == pods["service_account"]
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    [container] = spec["containers"]
    assert container["image"] == VARIABLES["pod_task_image"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    fargate = {"cpu": "250m", "memory": "256Mi"}
    assert container["resources"] == {"requests": fargate, "limits": fargate}
    bucket = VARIABLES["data_bucket"]
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "INPUT_URI": f"s3://{bucket}/input/orders.csv",
        "OUTPUT_URI": f"s3://{bucket}/output/pod_dag/{RUN_ID}/orders.csv",
    }
    fields = parsed["rendered"]["pod_dag.filter_orders"]
    assert fields["kubernetes_conn_id"] == "kubernetes_default"


@pytest.mark.e2e
def test_emr_dag_runs_the_job_on_the_application_of_the_variable(parsed: dict[str, Any]) -> None:
    [task] = tasks_of(parsed, "emr_dag").values()
    assert task["deferrable"] is False
    emr = VARIABLES["emr_serverless"]
    run = parsed["rendered"]["emr_dag.run_spark_job"]
    assert run["application_id"] == emr["application_id"]
    assert run["execution_role_arn"] == emr["execution_role_arn"]
    bucket = VARIABLES["data_bucket"]
    assert run["job_driver"] == {
        "sparkSubmit": {
            "entryPoint": emr["entry_point"],
            "entryPointArguments": [
                f"s3://{bucket}/input/orders.csv",
                f"s3://{bucket}/output/emr_dag/{RUN_ID}/",
            ],
        }
    }


# --- The Airflow image -------------------------------------------------------------------------


def dockerfile_instructions(name: str) -> list[str]:
    """Arguments of every ``name`` instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [line.split(maxsplit=1)[1] for line in lines if line.startswith(f"{name} ")]


def airflow_extra() -> dict[str, str]:
    """pyproject's `airflow` extra: requirement name (with extras) -> the whole requirement."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["optional-dependencies"]["airflow"]
    return {re.split(r"[=<>!~]", r, maxsplit=1)[0]: r for r in requirements}


def base_image_tags() -> set[str]:
    return {
        line.split()[0].removeprefix("apache/airflow:")
        for line in dockerfile_instructions("FROM")
        if line.startswith("apache/airflow:")
    }


@pytest.mark.unit
def test_the_base_image_is_the_pinned_airflow_on_python_3_11() -> None:
    tags = base_image_tags()
    assert tags == {f"{airflow_extra()['apache-airflow'].split('==')[1]}-python3.11"}


@pytest.mark.unit
def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    final = dockerfile_instructions("USER")[-1]
    uid = final.partition(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert final == "50000:0"  # the official image's airflow user; group 0 as it expects


@pytest.mark.unit
def test_the_image_keeps_the_base_images_entrypoint() -> None:
    """apache/airflow's ENTRYPOINT (dumb-init -- /entrypoint) runs every container, as
    farflow.manifests.runtime.IMAGE_ENTRYPOINT says and the local runtime reproduces."""
    assert dockerfile_instructions("ENTRYPOINT") == []
    assert dockerfile_instructions("CMD") == []


@pytest.mark.unit
def test_the_image_carries_the_dags_and_plugins() -> None:
    copies = dockerfile_instructions("COPY")
    assert "airflow/dags/ /opt/airflow/dags/" in copies
    assert "airflow/plugins/ /opt/airflow/plugins/" in copies
    assert any((ROOT / "airflow" / "plugins").iterdir())
    # The context is the repository root: its own .dockerignore keeps all but these out.
    ignored = (ROOT / "airflow" / "Dockerfile.dockerignore").read_text().splitlines()
    assert {"*", "!airflow/dags/", "!airflow/plugins/"} <= set(ignored)
    assert not (ROOT / "airflow" / "__init__.py").exists()  # never an importable `airflow`


@pytest.mark.unit
def test_the_image_carries_the_runtime_for_ecs_tasks() -> None:
    """Where pods mount farflow.runtime (its ConfigMap) and bootstrap (an emptyDir), the
    image has its own copy and a folder the runtime user writes: ECS tasks mount neither."""
    source, target = "operator/farflow/runtime/farflow_*.py", f"{RUNTIME_DIR}/"
    assert f"{source} {target}" in dockerfile_instructions("COPY")
    assert {path.stem for path in ROOT.glob(source)} == set(MODULES)
    assert f"!{source}" in (ROOT / "airflow" / "Dockerfile.dockerignore").read_text().split()
    assert f"install -d -o 50000 -g 0 {BOOTSTRAP_DIR}" in dockerfile_instructions("RUN")
