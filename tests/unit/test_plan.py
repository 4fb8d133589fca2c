"""The plan: which Airflow 3 processes run, and with which configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from farflow.plan import SecretRef, plan
from farflow.plan.model import EcsFacts
from tests.unit.planning import LOG_GROUP_ARN, REGION, cluster, facts, planned

pytestmark = pytest.mark.unit


def test_executors_keep_the_spec_order() -> None:
    config = planned({"spec": {"airflow": {"executors": ["Kubernetes", "Celery"]}}}).config
    assert config["AIRFLOW__CORE__EXECUTOR"] == "KubernetesExecutor,CeleryExecutor"


def test_kubernetes_executor_pods_run_in_the_cluster_namespace_from_a_template() -> None:
    executors = ["Celery", "Kubernetes"]
    result = planned(
        {"spec": {"airflow": {"executors": executors}, "pods": {"namespace": "tasks"}}}
    )
    # Where the ConfigMap and Secrets the pods read are; spec.pods is KubernetesPodOperator's.
    assert result.config["AIRFLOW__KUBERNETES_EXECUTOR__NAMESPACE"] == "default"
    assert result.task_namespace == "tasks"
    path = "/opt/airflow/pod_templates/pod_template.yaml"
    assert result.config["AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE"] == path
    assert result.pod_template_file == path


def test_no_kubernetes_executor_settings_without_it() -> None:
    result = planned({"spec": {"pods": {"namespace": "tasks"}}})
    assert result.pod_template_file is None
    assert not [name for name in result.config if "__KUBERNETES_EXECUTOR__" in name]


@pytest.mark.parametrize(
    ("pods", "namespace", "service_account"),
    [
        ({}, "default", "minimal-task"),
        ({"namespace": "tasks", "serviceAccountName": "runner"}, "tasks", "runner"),
    ],
)
def test_kubernetes_pod_operator_dags_read_their_target(
    pods: dict[str, str], namespace: str, service_account: str
) -> None:
    config = planned({"spec": {"pods": pods}}).config
    assert json.loads(config["AIRFLOW_VAR_FARFLOW_PODS"]) == {
        "namespace": namespace,
        "service_account": service_account,
        "labels": {"farflow.io/fargate": "true", "farflow.io/owner": "default.minimal"},
    }
    # KubernetesHook's unprefixed extra fields: in-cluster credentials, the default namespace.
    assert json.loads(config["AIRFLOW_CONN_KUBERNETES_DEFAULT"]) == {
        "conn_type": "kubernetes",
        "extra": {"in_cluster": True, "namespace": namespace},
    }


def test_ecs_executor_class() -> None:
    ecs = {
        "cluster": {"name": "tasks"},
        "subnets": ["subnet-0a1b2c3d4e5f60718"],
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecs",
    }
    config = planned({"spec": {"airflow": {"executors": ["Celery", "Ecs"]}, "ecs": ecs}}).config
    assert config["AIRFLOW__CORE__EXECUTOR"] == (
        "CeleryExecutor,airflow.providers.amazon.aws.executors.ecs.ecs_executor.AwsEcsExecutor"
    )


def test_components_reach_the_execution_api_through_the_service() -> None:
    config = planned().config
    assert config["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://minimal-api-server.default.svc.cluster.local:8080/execution/"
    )


def test_shared_keys_and_database_come_only_from_secrets() -> None:
    result = planned()
    by_name = {env.name: env for env in result.secret_env}
    assert set(by_name) == {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
    }
    assert all(env.value is None and env.secret is not None for env in result.secret_env)
    assert by_name["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].secret == SecretRef(
        "airflow-db", "connection"
    )
    assert not set(by_name) & set(result.config)


def test_celery_runs_on_sqs_with_predefined_queues() -> None:
    config = planned(
        {
            "spec": {
                "workers": {"queues": ["default", "heavy"]},
                "broker": {"sqs": {"visibilityTimeoutSeconds": 7200}},
            }
        }
    ).config
    assert config["AIRFLOW__CELERY__BROKER_URL"] == "sqs://"
    assert config["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__REGION"] == REGION
    assert config["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"] == "7200"
    queues = json.loads(config["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__PREDEFINED_QUEUES"])
    assert set(queues) == {"default", "heavy"}
    assert queues["heavy"]["url"].endswith("/q-heavy")
    assert config["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "default"
    assert config["AIRFLOW__CELERY__WORKER_ENABLE_REMOTE_CONTROL"] == "False"
    # A task whose worker dies is delivered again rather than lost.
    assert config["AIRFLOW__CELERY__TASK_ACKS_LATE"] == "True"
    assert json.loads(config["AIRFLOW__CELERY__EXTRA_CELERY_CONFIG"]) == {
        "task_reject_on_worker_lost": True,
        "imports": ["farflow_celery"],  # the heartbeat of the workers' probes
    }
    # The result backend is the metadata database: the celery provider derives db+<URL>
    # from sql_alchemy_conn, so no URL has to be written here.
    assert "AIRFLOW__CELERY__RESULT_BACKEND" not in config


def test_remote_task_logs_go_to_cloudwatch() -> None:
    config = planned().config
    assert config["AIRFLOW__LOGGING__REMOTE_LOGGING"] == "True"
    assert config["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == f"cloudwatch://{LOG_GROUP_ARN}"
    assert json.loads(config["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["region_name"] == REGION


@pytest.mark.parametrize(
    ("dags", "classpath", "kwargs"),
    [
        (
            {"image": {}},
            "airflow.dag_processing.bundles.local.LocalDagBundle",
            {"path": "/opt/airflow/dags"},
        ),
        (
            {"s3": {"bucket": "acme-dags", "prefix": "prod/"}},
            "airflow.providers.amazon.aws.bundles.s3.S3DagBundle",
            {"bucket_name": "acme-dags", "prefix": "prod/"},
        ),
        (
            {"git": {"repo": "https://github.com/acme/dags.git", "ref": "v2", "path": "dags"}},
            "airflow.providers.git.bundles.git.GitDagBundle",
            {
                "git_conn_id": "farflow_git",
                "tracking_ref": "v2",
                "subdir": "dags",
                "refresh_interval": 300,
            },
        ),
    ],
)
def test_dag_bundles(dags: dict[str, object], classpath: str, kwargs: dict[str, object]) -> None:
    config = planned({"spec": {"dags": {"image": None, **dags}}}).config
    [bundle] = json.loads(config["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    assert bundle["classpath"] == classpath
    assert bundle["kwargs"] == kwargs


def test_private_git_credentials_are_expanded_from_a_secret() -> None:
    git = {"repo": "https://github.com/acme/dags.git", "credentialsSecretRef": "git-token"}
    worker = planned({"spec": {"dags": {"image": None, "git": git}}}).component("worker")
    assert worker is not None
    env = {e.name: e for e in worker.env}
    assert env["FARFLOW_GIT_PASSWORD"].secret == SecretRef("git-token", "password")
    connection = json.loads(env["AIRFLOW_CONN_FARFLOW_GIT"].value or "")
    assert connection == {
        "conn_type": "git",
        "host": git["repo"],
        "login": "$(FARFLOW_GIT_USERNAME)",
        "password": "$(FARFLOW_GIT_PASSWORD)",
    }
    names = [e.name for e in worker.env]
    assert names.index("FARFLOW_GIT_PASSWORD") < names.index("AIRFLOW_CONN_FARFLOW_GIT")


def test_user_config_is_passed_through() -> None:
    config = planned({"spec": {"airflow": {"config": {"core": {"parallelism": "64"}}}}}).config
    assert config["AIRFLOW__CORE__PARALLELISM"] == "64"


# Run by Airflow itself: the waits its scheduler and task supervisor read, and the transport
# options its Celery app gives kombu.
_LOADED_WAITS = """
import json
from airflow.configuration import conf
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
transport = DEFAULT_CELERY_CONFIG["broker_transport_options"]
print(json.dumps({
    "scheduler_idle_sleep_time": conf.getfloat("scheduler", "scheduler_idle_sleep_time"),
    "min_heartbeat_interval": conf.getint("workers", "min_heartbeat_interval"),
    "polling_interval": transport["polling_interval"],
    "wait_time_seconds": transport["wait_time_seconds"],
}))
"""


@pytest.mark.parametrize(
    ("config", "waits"),
    [
        ({}, [0.2, 2, 0.2, 20]),
        ({"scheduler": {"scheduler_idle_sleep_time": "1"},
          "workers": {"min_heartbeat_interval": "5"},
          "celery_broker_transport_options": {"polling_interval": "1", "wait_time_seconds": "10"}},
         [1.0, 5, 1, 10]),
    ],
)  # fmt: skip
def test_airflow_and_kombu_read_the_shortened_waits_and_the_spec_sets_them_back(
    config: dict[str, dict[str, str]], waits: list[float], tmp_path: Path
) -> None:
    rendered = planned({"spec": {"airflow": {"config": config}}}).config
    assert list(_airflow_prints(_LOADED_WAITS, rendered, tmp_path).values()) == waits


def _airflow_prints(script: str, config: dict[str, str], home: Path) -> Any:
    """What ``script`` prints last as JSON, run by Airflow in the rendered environment."""
    env = {**os.environ, **config, "AIRFLOW_HOME": str(home)}
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True,
        check=False, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


# Run by Airflow itself: the backend its configuration builds from the rendered environment.
_LOADED_BACKEND = """
import json
from airflow.configuration import conf
backend = conf._get_custom_secret_backend()
print(json.dumps({
    "class": type(backend).__name__,
    "connections": [backend.connections_prefix, backend.connections_lookup_pattern],
    "variables": [backend.variables_prefix, backend.variables_lookup_pattern],
    "config": backend.config_prefix,
    "region": backend.kwargs.get("region_name"),
}))
"""


@pytest.mark.parametrize(
    ("backend", "connections", "variables"),
    [
        ({}, ["airflow/default/minimal/connections", None],
         ["airflow/default/minimal/variables", None]),
        ({"connectionsPrefix": "airflow/connections", "variablesPrefix": "airflow/variables",
          "connectionsLookupPattern": "^warehouse_", "variablesLookupPattern": "^team_"},
         ["airflow/connections", "^warehouse_"], ["airflow/variables", "^team_"]),
    ],
)  # fmt: skip
def test_the_secrets_backend_airflow_builds_reads_the_spec(
    backend: dict[str, str],
    connections: list[str | None],
    variables: list[str | None],
    tmp_path: Path,
) -> None:
    config = planned({"spec": {"airflow": {"secretsBackend": backend}}}).config
    assert _airflow_prints(_LOADED_BACKEND, config, tmp_path) == {
        "class": "SecretsManagerBackend",
        "connections": connections,
        "variables": variables,
        "config": None,  # no configuration option is looked up
        "region": REGION,
    }


def test_no_secrets_backend_unless_asked() -> None:
    assert not [name for name in planned().config if name.startswith("AIRFLOW__SECRETS__")]


def test_the_five_components_in_rollout_order() -> None:
    components = planned().components
    assert [c.name for c in components] == [
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker",
    ]
    stages = [c.rollout_stage for c in components]
    assert stages == sorted(stages)
    assert components[0].command == ("airflow", "api-server", "--port", "8080")
    assert components[-1].command == (
        "airflow",
        "celery",
        "worker",
        "--queues",
        "default",
        "--concurrency",
        "5",
    )


def test_each_worker_pool_is_a_worker_of_its_own_queues_size_and_bounds() -> None:
    large = {"name": "large", "queues": ["large", "larger"], "minReplicas": 0, "concurrency": 2}
    made = planned({"spec": {"workers": {"queues": ["default", "heavy"], "pools": [
        {**large, "resources": {"cpu": "4", "memory": "16Gi"}}
    ]}}})  # fmt: skip
    worker, pool = made.component("worker"), made.component("worker-large")
    assert worker is not None
    assert pool is not None
    assert worker.command[3:] == ("--queues", "default,heavy", "--concurrency", "5")
    assert pool.command[3:] == ("--queues", "large,larger", "--concurrency", "2")
    assert (pool.replicas, pool.size.cpu, pool.rollout_stage) == (0, "4", worker.rollout_stage)
    assert pool.is_worker
    assert pool.termination_grace_seconds == worker.termination_grace_seconds
    config = made.config
    predefined = json.loads(config["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__PREDEFINED_QUEUES"])
    assert sorted(predefined) == ["default", "heavy", "large", "larger"]
    assert config["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "default"


def test_every_component_has_probes() -> None:
    for component in planned().components:
        assert component.probes is not None, component.name


def test_probes_are_cheap_see_the_main_process_and_ride_out_a_failover() -> None:
    """No probe loads Airflow (``airflow jobs check`` costs ~140 MB and 4 s of CPU); the
    worker's are not a TCP check of its log server, a process of its own; a slow start has
    five minutes; liveness that reads the database tolerates longer than an RDS Multi-AZ
    failover (60-120 s). tests/e2e/test_probes.py runs them against real processes."""
    by_name = {c.name: c.probes for c in planned().components}
    for name, probes in by_name.items():
        assert probes is not None
        for probe in probes.by_kind().values():
            assert probe.command[:1] != ("airflow",), name
        assert probes.startup.period_seconds * probes.startup.failure_threshold >= 300, name
        assert probes.liveness.initial_delay_seconds == 0, name  # the startup probe guards it
    worker = by_name["worker"]
    assert worker is not None
    assert worker.liveness.command[:4] == ("python", "-m", "farflow_probe", "heartbeat")
    assert worker.readiness.command[-1] == "8793"  # ready also needs its log server
    for name in ("scheduler", "dag-processor", "triggerer"):
        liveness = by_name[name].liveness  # type: ignore[union-attr]
        assert liveness.period_seconds * liveness.failure_threshold >= 150, name


def test_triggerer_can_be_switched_off() -> None:
    result = planned({"spec": {"triggerer": {"enabled": False}}})
    assert result.component("triggerer") is None


def test_suspend_scales_everything_to_zero() -> None:
    assert {c.replicas for c in planned({"spec": {"suspend": True}}).components} == {0}


def test_worker_termination_grace_follows_the_spec() -> None:
    worker = planned({"spec": {"workers": {"terminationGracePeriodSeconds": 3700}}}).component(
        "worker"
    )
    assert worker is not None
    assert worker.termination_grace_seconds == 3700


def test_every_task_timeout_comes_from_the_longest_task() -> None:
    made = planned({"spec": {"airflow": {"longestTaskSeconds": 900}}})
    worker = made.component("worker")
    assert worker is not None
    assert worker.termination_grace_seconds == 960
    config = made.config
    assert config["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"] == "960"
    assert config["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"] == "1860"
    assert config["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] == "300"


def test_migration_creates_the_admin_without_a_password_literal() -> None:
    command = planned().migration_command
    assert command[:2] == ("bash", "-c")
    assert command[2].startswith("airflow db migrate && ")
    assert "airflow users create --username admin" in command[2]
    assert "--password" not in command[2]


def test_the_admin_password_is_on_no_command_line(tmp_path: Path) -> None:
    """The migration script run by bash, with an `airflow` that records its arguments and
    stdin: the password reaches the prompt of `users create`, never an argv."""
    (tmp_path / "airflow").write_text(
        '#!/bin/sh\necho "argv: $*" >> "$LOG"\ncat | sed "s/^/stdin: /" >> "$LOG"\n'
    )
    (tmp_path / "airflow").chmod(0o755)
    log, password = tmp_path / "log", "pa ss%w0rd$(id)"
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "LOG": str(log)}
    env["FARFLOW_ADMIN_PASSWORD"] = password
    subprocess.run(list(planned().migration_command), env=env, check=True, stdin=subprocess.DEVNULL)
    lines = log.read_text().splitlines()
    argv = [line for line in lines if line.startswith("argv: ")]
    assert [line.split()[1:3] for line in argv] == [["db", "migrate"], ["users", "create"]]
    assert not any(password in line for line in argv)
    assert lines.count(f"stdin: {password}") == 2  # Password: and Repeat for confirmation:


def test_ecs_executor_and_dag_variable_come_from_the_ecs_facts() -> None:
    ecs = {
        "cluster": {"name": "tasks"},
        "subnets": ["subnet-0a1b2c3d4e5f60718"],
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecs",
    }
    made = cluster({"spec": {"airflow": {"executors": ["Celery", "Ecs"]}, "ecs": ecs}})
    network = {
        "awsvpcConfiguration": {
            "subnets": ["subnet-0a1b2c3d4e5f60718"],
            "assignPublicIp": "DISABLED",
        }
    }
    ecs_facts = EcsFacts(
        "arn:aws:ecs:eu-west-1:1:cluster/tasks",
        network,
        "arn:aws:ecs:eu-west-1:1:task-definition/executor:1",
        "arn:aws:ecs:eu-west-1:1:task-definition/task:3",
        log_group="/farflow/default/minimal",
        log_stream_prefix="ecs",
    )
    config = plan(made, replace(facts(), ecs=ecs_facts)).config
    assert config["AIRFLOW__AWS_ECS_EXECUTOR__CLUSTER"] == ecs_facts.cluster
    assert config["AIRFLOW__AWS_ECS_EXECUTOR__TASK_DEFINITION"].endswith("executor:1")
    assert config["AIRFLOW__AWS_ECS_EXECUTOR__SUBNETS"] == "subnet-0a1b2c3d4e5f60718"
    assert config["AIRFLOW__AWS_ECS_EXECUTOR__ASSIGN_PUBLIC_IP"] == "False"
    variable = json.loads(config["AIRFLOW_VAR_FARFLOW_ECS"])
    assert variable["task_definition"].endswith("task:3")
    assert variable["network_configuration"] == network
    # The task's log stream is ecs/task/<task id>: EcsRunTaskOperator takes ecs/task.
    assert {key: variable[key] for key in variable if key.startswith("awslogs_")} == {
        "awslogs_group": "/farflow/default/minimal",
        "awslogs_region": REGION,
        "awslogs_stream_prefix": "ecs/task",
    }
