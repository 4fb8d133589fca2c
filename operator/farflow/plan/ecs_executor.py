"""The Ecs executor's task container: the environment of an Airflow worker, split into what
the task definition may carry as plain values and what must come from Secrets Manager.

AwsEcsExecutor adds only each task's command (and AIRFLOW_IS_EXECUTOR_CONTAINER) to the task
definition's container, so the definition carries everything else a worker reads: the
cluster's Airflow settings, and the worker's variables resolved as the kubelet resolves them
for a pod (a secretKeyRef, or a value that expands one with $(VAR), is secret). The execution
API is where the tasks reach the API server from the ECS subnets, not the in-cluster Service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from farflow.api.names import SecretRef
from farflow.objects import ENV_REFERENCE, expand
from farflow.plan.config import env_name
from farflow.plan.model import Plan

EXECUTION_API = env_name("core", "execution_api_server_url")
OTEL_ON = env_name("metrics", "otel_on")


@dataclass(frozen=True)
class ExecutorEnv:
    environment: dict[str, str]  # plain values, for the task definition
    secrets: dict[str, str] = field(repr=False)  # values for Secrets Manager only


def executor_env(plan: Plan, api_server_url: str, read: Callable[[SecretRef], str]) -> ExecutorEnv:
    """The worker's environment for an ECS task that reaches the API server at
    ``api_server_url``; ``read`` gives a Secret key's value."""
    worker = plan.component("worker")
    if worker is None:
        raise ValueError("a plan always has a worker component")
    environment = {
        **_without_metrics(plan.config),
        EXECUTION_API: f"{api_server_url.rstrip('/')}/execution/",
    }
    secrets: dict[str, str] = {}
    for variable in (*plan.secret_env, *worker.env):
        if variable.secret is not None:
            secrets[variable.name] = read(variable.secret)
            continue
        value = variable.value or ""
        if set(ENV_REFERENCE.findall(value)) & secrets.keys():
            secrets[variable.name] = expand(value, {**environment, **secrets})
        else:
            environment[variable.name] = expand(value, environment)
    return ExecutorEnv(environment, secrets)


def _without_metrics(config: dict[str, str]) -> dict[str, str]:
    """The settings without the metrics exporter: its collector is a Service of the
    Kubernetes cluster, which ECS tasks cannot reach, so every push would only fail."""
    kept = {name: value for name, value in config.items() if not name.startswith("OTEL_")}
    return kept | ({OTEL_ON: "False"} if OTEL_ON in config else {})
