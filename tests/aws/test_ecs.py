"""ECS on Fargate against moto: the cluster with Fargate capacity, the task definition reused
while unchanged, the awsvpc network shape, and deletion of what is ours only."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import boto3
import pytest

from farflow.aws.ecs import (
    delete_ecs,
    describe_ecs_cluster,
    ensure_ecs_cluster,
    network_configuration,
    register_task_definition,
    task_size,
)
from farflow.aws.session import TAG_KEY, AwsError
from farflow.fargate import FargateSizeError
from tests.fixtures.aws import REGION
from tests.fixtures.aws_proxy import AwsProxy

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]
OWNER = "ecs/test"
OURS = [{"key": TAG_KEY, "value": OWNER}]
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/farflow/ecs-execution"
TASK_ROLE = "arn:aws:iam::123456789012:role/farflow/ecs-task"


@pytest.fixture
def name() -> str:
    return f"farflow-test-{uuid.uuid4().hex[:12]}"


def ecs() -> Any:
    return boto3.client("ecs")


def described(cluster: str) -> dict[str, Any]:
    [found] = ecs().describe_clusters(clusters=[cluster], include=["TAGS"])["clusters"]
    return dict(found)


def register(family: str, **changes: Any) -> Any:
    arguments = {
        "image": "public.ecr.aws/docker/library/python:3.12-slim",
        "cpu": "0.3",
        "memory": "600Mi",
        "execution_role_arn": EXECUTION_ROLE,
        "task_role_arn": TASK_ROLE,
        "log_group": f"/farflow/{family}",
        "owner": OWNER,
    }
    return register_task_definition(REGION, family, **{**arguments, **changes})


def revisions(family: str, status: str = "ACTIVE") -> list[str]:
    arns = ecs().list_task_definitions(familyPrefix=family, status=status)["taskDefinitionArns"]
    return [str(arn) for arn in arns]


def test_cluster_created_with_fargate_capacity_and_tagged(name: str) -> None:
    state = ensure_ecs_cluster(REGION, name, OWNER)
    assert (state.name, state.active) == (name, True)
    found = described(name)
    assert state.arn == found["clusterArn"]
    assert sorted(found["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    assert found["defaultCapacityProviderStrategy"][0]["capacityProvider"] == "FARGATE"
    assert found["tags"] == OURS


def test_ensured_again_the_cluster_is_only_read(name: str, aws_faults: AwsProxy) -> None:
    first = ensure_ecs_cluster(REGION, name, OWNER)
    called = len(aws_faults.actions)
    assert [ensure_ecs_cluster(REGION, name, OWNER) for _ in range(2)] == [first, first]
    assert aws_faults.actions[called:] == ["ecs:DescribeClusters"] * 2
    arns = ecs().list_clusters()["clusterArns"]
    assert [arn for arn in arns if arn.endswith(f"/{name}")] == [first.arn]


def test_capacity_providers_are_set_again(name: str) -> None:
    ensure_ecs_cluster(REGION, name, OWNER)
    ecs().put_cluster_capacity_providers(
        cluster=name, capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=[]
    )
    ensure_ecs_cluster(REGION, name, OWNER)
    assert sorted(described(name)["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]


def test_a_cluster_not_ours_is_refused_but_can_be_adopted(name: str) -> None:
    ecs().create_cluster(clusterName=name)
    with pytest.raises(AwsError, match=f"ECS cluster {name} exists but is not tagged") as refused:
        ensure_ecs_cluster(REGION, name, OWNER)
    assert refused.value.reason == "EcsClusterNotOwned"
    adopted = describe_ecs_cluster(REGION, name)
    assert (adopted.name, adopted.status) == (name, "ACTIVE")
    assert "tags" not in described(name)


def test_adopting_a_missing_or_deleted_cluster_says_so(name: str) -> None:
    with pytest.raises(AwsError, match=f"ECS cluster {name} does not exist") as missing:
        describe_ecs_cluster(REGION, name)
    assert missing.value.reason == "EcsClusterNotFound"
    ecs().create_cluster(clusterName=name)
    ecs().delete_cluster(cluster=name)
    with pytest.raises(AwsError, match="INACTIVE"):
        describe_ecs_cluster(REGION, name)


@pytest.mark.parametrize(
    ("cpu", "memory", "units", "mib"),
    [
        ("0.25", "512Mi", "256", "512"),
        ("250m", "0.5Gi", "256", "512"),
        ("0.3", "600Mi", "512", "1024"),
        ("1", "3Gi", "1024", "3072"),
        ("1", "9Gi", "2048", "9216"),
        ("5", "17Gi", "8192", "20480"),
    ],
)
def test_task_sizes_snap_to_fargate(cpu: str, memory: str, units: str, mib: str) -> None:
    size = task_size(cpu, memory)
    assert (str(int(size.vcpu * 1024)), str(size.memory_mib)) == (units, mib)


def test_a_task_larger_than_fargate_is_refused() -> None:
    with pytest.raises(FargateSizeError, match="largest Fargate task"):
        task_size("16", "121Gi")


def test_task_definition_for_fargate_with_awslogs(name: str) -> None:
    state = register(name)
    assert (state.family, state.revision, state.cpu, state.memory) == (name, 1, "512", "1024")
    assert state.registered
    found = ecs().describe_task_definition(taskDefinition=state.arn, include=["TAGS"])
    definition = found["taskDefinition"]
    assert found["tags"] == OURS
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["networkMode"] == "awsvpc"
    assert (definition["cpu"], definition["memory"]) == ("512", "1024")
    assert (definition["executionRoleArn"], definition["taskRoleArn"]) == (
        EXECUTION_ROLE,
        TASK_ROLE,
    )
    [container] = definition["containerDefinitions"]
    assert container["name"] == "task"
    assert container["image"] == "public.ecr.aws/docker/library/python:3.12-slim"
    assert container["memory"] == 1024  # all of the task's memory
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": f"/farflow/{name}",
            "awslogs-region": REGION,
            "awslogs-stream-prefix": "ecs",
        },
    }


def test_without_a_log_group_the_container_has_no_log_configuration(name: str) -> None:
    """CloudWatch off: no awslogs driver naming a group that does not exist, which ECS
    would refuse when it starts the task."""
    state = register(name, log_group=None)
    definition = ecs().describe_task_definition(taskDefinition=state.arn)["taskDefinition"]
    [container] = definition["containerDefinitions"]
    assert "logConfiguration" not in container
    assert register(name, log_group=None) == replace(state, registered=False)


def test_an_unchanged_task_definition_is_reused(name: str, aws_faults: AwsProxy) -> None:
    first = register(name)
    called = len(aws_faults.actions)
    again = [register(name) for _ in range(2)]
    assert [state.registered for state in again] == [False, False]
    assert {state.arn for state in again} == {first.arn}
    assert "ecs:RegisterTaskDefinition" not in aws_faults.actions[called:]
    assert revisions(name) == [first.arn]


@pytest.mark.parametrize(
    "change",
    [
        {"image": "public.ecr.aws/docker/library/python:3.13-slim"},
        {"memory": "3Gi"},
        {"task_role_arn": None},
        {"log_group": "/farflow/elsewhere"},
        {"log_group": None},
    ],
)
def test_a_changed_task_definition_is_a_new_revision(name: str, change: dict[str, Any]) -> None:
    register(name)
    changed = register(name, **change)
    assert (changed.revision, changed.registered) == (2, True)
    assert register(name, **change) == replace(changed, registered=False)
    assert len(revisions(name)) == 2


def test_environment_and_secrets_are_the_containers_and_a_change_is_a_new_revision(
    name: str,
) -> None:
    """The Ecs executor's definition: plain variables, and secrets by Secrets Manager ARN."""
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/ns/c/ecs-executor"
    variables = {
        "environment": {"B": "2", "A": "1"},
        "secrets": {"AIRFLOW__CORE__FERNET_KEY": f"{secret}:AIRFLOW__CORE__FERNET_KEY::"},
    }
    first = register(name, **variables)
    described = ecs().describe_task_definition(taskDefinition=first.arn)["taskDefinition"]
    [container] = described["containerDefinitions"]
    assert container["environment"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert container["secrets"] == [
        {"name": "AIRFLOW__CORE__FERNET_KEY", "valueFrom": f"{secret}:AIRFLOW__CORE__FERNET_KEY::"}
    ]
    assert register(name, **variables).registered is False
    changed = register(name, **{**variables, "environment": {"A": "1", "B": "3"}})
    assert (changed.revision, changed.registered) == (2, True)


def test_an_entry_point_is_the_containers_and_a_change_is_a_new_revision(name: str) -> None:
    """The Ecs executor's tasks bootstrap in their entry point; none set keeps the image's."""
    plain = register(name)
    [container] = ecs().describe_task_definition(taskDefinition=plain.arn)["taskDefinition"][
        "containerDefinitions"
    ]
    assert not container.get("entryPoint")
    assert register(name).registered is False
    entry_point = ("/usr/bin/dumb-init", "--", "/entrypoint", "bash", "-c", 'exec "$@"', "t")
    changed = register(name, entry_point=entry_point)
    assert (changed.revision, changed.registered) == (2, True)
    [container] = ecs().describe_task_definition(taskDefinition=changed.arn)["taskDefinition"][
        "containerDefinitions"
    ]
    assert container["entryPoint"] == list(entry_point)
    assert register(name, entry_point=entry_point).registered is False


def test_a_definition_without_container_memory_gets_a_new_revision(name: str) -> None:
    """Revisions FarFlow registered before it set the container's memory are replaced."""
    first = register(name)
    old = ecs().describe_task_definition(taskDefinition=first.arn)["taskDefinition"]
    [container] = old["containerDefinitions"]
    del container["memory"]
    wanted = ("requiresCompatibilities", "networkMode", "cpu", "memory", "executionRoleArn")
    ecs().register_task_definition(
        family=name,
        taskRoleArn=TASK_ROLE,
        containerDefinitions=[container],
        tags=OURS,
        **{key: old[key] for key in wanted},
    )
    assert register(name).revision == 3


def test_a_family_not_ours_gets_no_revision(name: str) -> None:
    ecs().register_task_definition(
        family=name, containerDefinitions=[{"name": "app", "image": "busybox", "memory": 128}]
    )
    with pytest.raises(AwsError, match=f"family {name} exists but is not tagged"):
        register(name)
    assert len(revisions(name)) == 1


def test_network_configuration_for_run_task() -> None:
    assert network_configuration(["subnet-1", "subnet-2"], ["sg-1"], False) == {
        "awsvpcConfiguration": {
            "subnets": ["subnet-1", "subnet-2"],
            "securityGroups": ["sg-1"],
            "assignPublicIp": "DISABLED",
        }
    }
    assert network_configuration(("subnet-1",), (), True) == {
        "awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "ENABLED"}
    }


def test_deleting_leaves_nothing_of_ours(name: str) -> None:
    ensure_ecs_cluster(REGION, name, OWNER)
    register(name)
    register(name, image="busybox")
    assert delete_ecs(REGION, name, name, OWNER, delete_cluster=True)
    assert described(name)["status"] == "INACTIVE"
    assert revisions(name) == []
    assert revisions(name, "INACTIVE") == []
    assert delete_ecs(REGION, name, name, OWNER, delete_cluster=True)  # gone already: done


def test_deleting_keeps_what_is_not_ours(name: str) -> None:
    ecs().create_cluster(clusterName=name)
    ecs().register_task_definition(
        family=name, containerDefinitions=[{"name": "app", "image": "busybox", "memory": 128}]
    )
    register(f"{name}-longer")  # ours, but another family
    assert delete_ecs(REGION, name, name, OWNER, delete_cluster=True)
    assert described(name)["status"] == "ACTIVE"
    assert len(revisions(name)) == 1
    assert len(revisions(f"{name}-longer")) == 1


def test_an_adopted_cluster_is_not_deleted(name: str) -> None:
    ensure_ecs_cluster(REGION, name, OWNER)
    assert delete_ecs(REGION, name, name, OWNER, delete_cluster=False)
    assert described(name)["status"] == "ACTIVE"


def test_a_registered_task_definition_runs_on_fargate(name: str) -> None:
    """What EcsRunTaskOperator and the Ecs executor call; Fargate needs the container memory."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # moto names the task's network interface by DNS and needs a security group for it.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=name, Description="tasks", VpcId=vpc)["GroupId"]
    cluster = ensure_ecs_cluster(REGION, name, OWNER)
    state = register(name)
    response = ecs().run_task(
        cluster=cluster.arn,
        taskDefinition=state.arn,
        launchType="FARGATE",
        networkConfiguration=network_configuration([subnet], [group], False),
    )
    assert response["failures"] == []
    [task] = response["tasks"]
    assert task["taskDefinitionArn"] == state.arn
    ecs().stop_task(cluster=cluster.arn, task=task["taskArn"])
