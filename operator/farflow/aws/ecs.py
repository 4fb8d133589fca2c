"""ECS on Fargate for DAG tasks: the cluster, the task definition, the awsvpc network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from farflow.aws.session import TAG_KEY, AwsError, client, error_code, failed, tagged_owner
from farflow.fargate import FargateSize, FargateSizeError, parse_cpu, parse_memory_mib, valid_sizes

_failed = partial(failed, "ecs")

CONTAINER = "task"
LOG_STREAM_PREFIX = "ecs"  # a task's log stream: ecs/<container>/<task id>
_CAPACITY = {
    "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
    "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}],
}
_BUSY = {"ClusterContainsTasksException", "ClusterContainsServicesException"}
_TASK_KEYS = (
    "requiresCompatibilities",
    "networkMode",
    "cpu",
    "memory",
    "executionRoleArn",
    "taskRoleArn",
)


@dataclass(frozen=True)
class EcsClusterState:
    """An ECS cluster tasks run in; ACTIVE once it can take tasks."""

    name: str
    arn: str
    status: str

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


@dataclass(frozen=True)
class TaskDefinitionState:
    """The task definition revision to run; registered when this call made a new revision."""

    family: str
    revision: int
    arn: str
    cpu: str
    memory: str
    registered: bool


def ensure_ecs_cluster(region: str, name: str, owner: str) -> EcsClusterState:
    """Creates the cluster with Fargate capacity providers, or checks the one we made."""
    ecs = client("ecs", region)
    try:
        found = _cluster(ecs, name)
        if found is None:
            found = ecs.create_cluster(clusterName=name, tags=_tags(owner), **_CAPACITY)["cluster"]
        elif _owner(found) != owner:
            raise AwsError(
                "EcsClusterNotOwned",
                f"ECS cluster {name} exists but is not tagged {TAG_KEY}={owner}; set "
                "spec.ecs.cluster.create: false to run tasks in it, or choose another name",
            )
        elif _capacity(found) != _CAPACITY:
            found = ecs.put_cluster_capacity_providers(cluster=name, **_CAPACITY)["cluster"]
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, name) from error
    return _cluster_state(found)


def describe_ecs_cluster(region: str, name: str) -> EcsClusterState:
    """An existing cluster FarFlow runs tasks in without managing it."""
    try:
        found = _cluster(client("ecs", region), name)
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, name) from error
    if found is None:
        raise AwsError(
            "EcsClusterNotFound",
            f"ECS cluster {name} does not exist in {region} (or is INACTIVE); create it, or "
            "set spec.ecs.cluster.create: true",
        )
    return _cluster_state(found)


def task_size(cpu: str, memory: str) -> FargateSize:
    """The smallest Fargate task size that holds cpu and memory (ECS adds no overhead)."""
    vcpu, memory_mib = parse_cpu(cpu), parse_memory_mib(memory)
    size = next((s for s in valid_sizes() if s.vcpu >= vcpu and s.memory_mib >= memory_mib), None)
    if size is None:
        raise FargateSizeError(
            f"cpu {cpu} / memory {memory} exceeds the largest Fargate task, {valid_sizes()[-1]}"
        )
    return size


def register_task_definition(
    region: str,
    family: str,
    *,
    image: str,
    cpu: str,
    memory: str,
    execution_role_arn: str,
    task_role_arn: str | None,
    log_group: str | None,
    owner: str,
    environment: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    entry_point: Sequence[str] = (),
) -> TaskDefinitionState:
    """The family's latest revision when it matches; otherwise a newly registered one.

    cpu and memory are Kubernetes quantities ("0.3", "600Mi"), snapped to a Fargate size.
    Without a log group the container has no log configuration (its output is not kept).
    ``environment`` holds plain values; ``secrets`` maps a variable to where ECS reads it
    (a Secrets Manager ARN and JSON key), with the execution role's rights; ``entry_point``,
    when given, replaces the image's ENTRYPOINT."""
    size = task_size(cpu, memory)
    roles = {"executionRoleArn": execution_role_arn, "taskRoleArn": task_role_arn}
    container = _container(image, size.memory_mib, log_group, region)
    container |= _variables(environment or {}, secrets or {})
    if entry_point:
        container["entryPoint"] = list(entry_point)
    wanted: dict[str, Any] = {
        "family": family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": str(int(size.vcpu * 1024)),
        "memory": str(size.memory_mib),
        **{key: arn for key, arn in roles.items() if arn},
        "containerDefinitions": [container],
    }
    ecs = client("ecs", region)
    try:
        latest = _latest_revision(ecs, family)
        if latest is not None:
            _check_family_owner(latest, family, owner)
            if _essence(latest["taskDefinition"]) == _essence(wanted):
                return _task_state(latest["taskDefinition"], registered=False)
        response = ecs.register_task_definition(**wanted, tags=_tags(owner))
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, family) from error
    return _task_state(response["taskDefinition"], registered=True)


def network_configuration(
    subnets: Sequence[str], security_groups: Sequence[str], assign_public_ip: bool
) -> dict[str, dict[str, Any]]:
    """run_task's networkConfiguration (EcsRunTaskOperator's network_configuration)."""
    vpc: dict[str, Any] = {
        "subnets": list(subnets),
        "assignPublicIp": "ENABLED" if assign_public_ip else "DISABLED",
    }
    if security_groups:
        vpc["securityGroups"] = list(security_groups)
    return {"awsvpcConfiguration": vpc}


def delete_ecs(
    region: str, cluster_name: str, family: str, owner: str, delete_cluster: bool
) -> bool:
    """Deregisters and deletes the family's revisions tagged ours, then the cluster if asked
    and ours, stopping its tasks first. True once done; False while tasks are stopping."""
    ecs = client("ecs", region)
    try:
        _retire_family(ecs, family, owner)
        return not delete_cluster or _deleted_cluster(ecs, cluster_name, owner)
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, f"{cluster_name} {family}") from error


def _tags(owner: str) -> list[dict[str, str]]:
    return [{"key": TAG_KEY, "value": owner}]


def _owner(described: dict[str, Any]) -> str | None:
    return tagged_owner(described.get("tags", []))


def _cluster(ecs: Any, name: str) -> dict[str, Any] | None:
    """The cluster as described, with tags; None when missing or deleted (INACTIVE)."""
    clusters = ecs.describe_clusters(clusters=[name], include=["TAGS"]).get("clusters", [])
    live = [c for c in clusters if c["clusterName"] == name and c["status"] != "INACTIVE"]
    return live[0] if live else None


def _capacity(cluster: dict[str, Any]) -> dict[str, Any]:
    strategy = [{"base": 0, **item} for item in cluster.get("defaultCapacityProviderStrategy", [])]
    return {
        "capacityProviders": sorted(cluster.get("capacityProviders", [])),
        "defaultCapacityProviderStrategy": strategy,
    }


def _cluster_state(cluster: dict[str, Any]) -> EcsClusterState:
    return EcsClusterState(cluster["clusterName"], cluster["clusterArn"], cluster["status"])


def _container(image: str, memory_mib: int, log_group: str | None, region: str) -> dict[str, Any]:
    """The task's one container, with all of the task's memory (its hard limit, in MiB)."""
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "essential": True,
        "memory": memory_mib,
    }
    if log_group is not None:
        options = {
            "awslogs-group": log_group,
            "awslogs-region": region,
            "awslogs-stream-prefix": LOG_STREAM_PREFIX,
        }
        container["logConfiguration"] = {"logDriver": "awslogs", "options": options}
    return container


def _variables(environment: Mapping[str, str], secrets: Mapping[str, str]) -> dict[str, Any]:
    """The container's environment and secrets, sorted as a change check compares them."""
    variables: dict[str, Any] = {}
    if environment:
        variables["environment"] = _pairs(environment, "value")
    if secrets:
        variables["secrets"] = _pairs(secrets, "valueFrom")
    return variables


def _pairs(values: Mapping[str, str], field: str) -> list[dict[str, str]]:
    return [{"name": name, field: values[name]} for name in sorted(values)]


def _latest_revision(ecs: Any, family: str) -> dict[str, Any] | None:
    """The family's latest ACTIVE revision with its tags; None when it has none."""
    try:
        found: dict[str, Any] = ecs.describe_task_definition(
            taskDefinition=family, include=["TAGS"]
        )
    except ClientError as error:
        if error_code(error) != "ClientException":
            raise
        return None
    return found if found["taskDefinition"].get("status") == "ACTIVE" else None


def _check_family_owner(latest: dict[str, Any], family: str, owner: str) -> None:
    if _owner(latest) != owner:
        raise AwsError(
            "TaskDefinitionNotOwned",
            f"task definition family {family} exists but is not tagged {TAG_KEY}={owner}; "
            "FarFlow will not add revisions to it",
        )


def _essence(definition: dict[str, Any]) -> dict[str, Any]:
    """What FarFlow sets in a task definition, as AWS reports it: equal means no new revision."""
    containers = definition.get("containerDefinitions", [])
    return {
        **{key: definition.get(key) for key in _TASK_KEYS},
        "containers": [_container_essence(container) for container in containers],
    }


def _container_essence(container: dict[str, Any]) -> tuple[Any, ...]:
    log = container.get("logConfiguration", {})
    keys = ("name", "image", "essential", "memory")
    variables = [
        sorted(container.get(kind) or [], key=lambda pair: pair["name"])
        for kind in ("environment", "secrets")
    ]
    return (
        *(container.get(key) for key in keys),
        container.get("entryPoint") or None,  # none set may read as []
        log.get("logDriver"),
        log.get("options"),
        *variables,
    )


def _task_state(definition: dict[str, Any], registered: bool) -> TaskDefinitionState:
    return TaskDefinitionState(
        family=definition["family"],
        revision=int(definition["revision"]),
        arn=definition["taskDefinitionArn"],
        cpu=definition["cpu"],
        memory=definition["memory"],
        registered=registered,
    )


def _revisions(ecs: Any, family: str, status: str, owner: str) -> list[str]:
    """ARNs of the family's revisions in status that are tagged ours."""
    pages = ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status=status)
    arns = [arn for page in pages for arn in page.get("taskDefinitionArns", [])]
    return [
        arn
        for arn in arns
        if _owner(ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])) == owner
    ]


def _retire_family(ecs: Any, family: str, owner: str) -> None:
    """Deregisters the family's ACTIVE revisions tagged ours, then deletes the INACTIVE ones."""
    for arn in _revisions(ecs, family, "ACTIVE", owner):
        ecs.deregister_task_definition(taskDefinition=arn)
    inactive = _revisions(ecs, family, "INACTIVE", owner)
    for start in range(0, len(inactive), 10):  # DeleteTaskDefinitions takes 10 at a time
        ecs.delete_task_definitions(taskDefinitions=inactive[start : start + 10])


def _deleted_cluster(ecs: Any, name: str, owner: str) -> bool:
    found = _cluster(ecs, name)
    if found is None or _owner(found) != owner:
        return True
    pages = ecs.get_paginator("list_tasks").paginate(cluster=name)
    for task in [arn for page in pages for arn in page.get("taskArns", [])]:
        ecs.stop_task(cluster=name, task=task, reason="FarFlow cluster deleted")
    try:
        ecs.delete_cluster(cluster=name)
    except ClientError as error:
        if error_code(error) not in _BUSY:
            raise
        return False
    return True
