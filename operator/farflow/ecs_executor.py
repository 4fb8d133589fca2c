"""The Ecs executor's task definition, registered once the plan and the cluster's Secrets
exist: the Airflow image with a worker's environment (farflow.plan.ecs_executor).

Its secret variables are mirrored from the cluster's Kubernetes Secrets into one Secrets
Manager secret, <executor_secret_id>, and the task definition names them under ``secrets``
(ECS injects them with the execution role's rights), so no secret value is written into a
task definition. Its tasks reach the execution API at spec.ecs.apiServerUrl, else at the API
server's load balancer, once the Service has one.

ECS tasks have no init containers: with spec.airflow's requirements, plugins or startup script,
the definition's entry point runs farflow_bootstrap in the task's one container (the image's
copy of farflow.runtime, which airflow/Dockerfile puts where pods mount the operator's), then
the executor's command, through farflow_startup when there is a script."""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from farflow.api.names import SecretRef
from farflow.api.resolve import ResolvedCluster
from farflow.aws import secrets
from farflow.aws.facts import TaskDefinitions
from farflow.kube import observe
from farflow.kube.client import Kube
from farflow.manifests.config_map import content_hash
from farflow.manifests.runtime import (
    BOOTSTRAP,
    IMAGE_ENTRYPOINT,
    STARTUP,
    bootstrap_env,
    startup_env,
)
from farflow.plan import AwsFacts, Plan
from farflow.plan.ecs_executor import ExecutorEnv, executor_env


@dataclass(frozen=True)
class ExecutorDefinition:
    """What the executor's task definition is made of."""

    family: str
    image: str
    env: ExecutorEnv
    entry_point: tuple[str, ...] = ()  # the image's own, unless the tasks bootstrap

    @property
    def fingerprint(self) -> str:
        """Changes whenever the registered definition or its secret's values would."""
        env = self.env
        parts = [self.family, self.image, env.environment, env.secrets, self.entry_point]
        return content_hash(parts)


def definition(
    cluster: ResolvedCluster,
    planned: Plan,
    facts: AwsFacts,
    kube: Kube,
    read: Mapping[str, Mapping[str, str]],
) -> ExecutorDefinition | str | None:
    """The executor's definition; what it waits for; or None without the Ecs executor.
    ``read`` is the data (base64) of the Secret keys the pods read; a missing key raises
    KeyError naming it, never its value."""
    wanted = cluster.spec.ecs
    family = facts.ecs.executor_task_definition if facts.ecs else None
    if wanted is None or family is None:
        return None
    url = wanted.api_server_url or _load_balancer_url(planned, kube)
    if url is None:
        return (
            f"the Ecs executor's tasks wait for the load balancer address of Service "
            f"{planned.names.service} (or set spec.ecs.apiServerUrl)"
        )
    env = executor_env(planned, url, _reader(read))
    if planned.bootstrap is None:
        return ExecutorDefinition(family, planned.image, env)
    bootstrap = {e.name: e.value or "" for e in (*bootstrap_env(planned), *startup_env(planned))}
    env = replace(env, environment={**env.environment, **bootstrap})
    return ExecutorDefinition(family, planned.image, env, _bootstrapping(planned))


def _bootstrapping(planned: Plan) -> tuple[str, ...]:
    """The image's entrypoint, running farflow_bootstrap and then the task's command."""
    then = f'exec {shlex.join(STARTUP)} "$@"' if planned.startup_script else 'exec "$@"'
    script = f"{shlex.join(BOOTSTRAP)} && {then}"
    return (*IMAGE_ENTRYPOINT, "bash", "-c", script, "farflow-ecs-task")


def register(cluster: ResolvedCluster, wanted: ExecutorDefinition, region: str) -> None:
    """Mirrors the secret values and registers the definition (a new revision only when it
    changed)."""
    ecs, names = cluster.spec.ecs, cluster.aws_names
    if ecs is None:
        return
    values = wanted.env.secrets
    kms_key = cluster.spec.aws.kms_key_arn
    arn = secrets.mirror_secret(region, names.executor_secret_id, values, names.owner, kms_key)
    TaskDefinitions.of(cluster, ecs, region)(
        wanted.family,
        wanted.image,
        cluster.spec.workers.resources,
        environment=wanted.env.environment,
        secrets={name: f"{arn}:{name}::" for name in values},
        entry_point=wanted.entry_point,
    )


def _reader(read: Mapping[str, Mapping[str, str]]) -> Callable[[SecretRef], str]:
    def value(ref: SecretRef) -> str:
        data = read.get(ref.name, {})
        if ref.key not in data:
            raise KeyError(f"Secret {ref.name} has no key {ref.key}")
        return base64.b64decode(data[ref.key]).decode()

    return value


def _load_balancer_url(planned: Plan, kube: Kube) -> str | None:
    service = kube.get("v1", "Service", planned.names.service, planned.names.namespace)
    return observe.load_balancer_url(service, planned.service.port) if service else None
