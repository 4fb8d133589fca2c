"""Every Python module the rendered Airflow configuration makes Airflow import: its
executors, auth manager, DAG bundles, broker transport and remote log handler, and what
FarFlow's own probes use. The image must carry them all (farflow_preflight checks it in the
cluster, and a unit test checks airflow/Dockerfile installs them)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from farflow.plan.config import env_name

# Executors [core] executor names by alias rather than by module path.
EXECUTOR_MODULES = {
    "CeleryExecutor": "airflow.providers.celery.executors.celery_executor",
    "KubernetesExecutor": "airflow.providers.cncf.kubernetes.executors.kubernetes_executor",
}
CLOUDWATCH_HANDLER = "airflow.providers.amazon.aws.log.cloudwatch_task_handler"


def required_modules(config: Mapping[str, str]) -> dict[str, str]:
    """Module -> what needs it, as the end of "the image lacks <module>, which ..."."""
    modules = {
        **_executors(config[env_name("core", "executor")]),
        _module(config[env_name("core", "auth_manager")]): "[core] auth_manager names",
        **_bundles(config[env_name("dag_processor", "dag_bundle_config_list")]),
        # The DAG processor's and triggerer's probes read their job's heartbeat with it.
        "psycopg2": "FarFlow's probes (farflow_probe job) need",
    }
    if config.get(env_name("celery", "broker_url"), "").startswith("sqs://"):
        modules["kombu.transport.SQS"] = "[celery] broker_url = sqs:// needs"
        modules["pycurl"] = "kombu's SQS transport (the Celery broker) reads SQS with"
    if config.get(env_name("logging", "remote_base_log_folder"), "").startswith("cloudwatch://"):
        modules[CLOUDWATCH_HANDLER] = "[logging] remote_base_log_folder = cloudwatch:// needs"
    return modules


def _module(classpath: str) -> str:
    return classpath.rpartition(".")[0]


def _executors(executors: str) -> dict[str, str]:
    return {
        EXECUTOR_MODULES.get(name) or _module(name): f"[core] executor {name} needs"
        for name in executors.split(",")
    }


def _bundles(bundle_list: str) -> dict[str, str]:
    return {
        _module(bundle["classpath"]): f"the DAG bundle {bundle['name']} needs"
        for bundle in json.loads(bundle_list)
    }
