"""`farflow render` shows what the operator creates: the facts it derives offline for the
full example equal those `gather` reports after creating everything in moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from farflow.api import parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.aws.facts import Gathered, gather, offline
from tests.aws.moto_env import unique
from tests.cases import FULL, load, merged
from tests.fixtures.aws_proxy import AwsProxy
from tests.fixtures.processes import wait_until

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]
ACCOUNT = "123456789012"  # moto's account


def full_cluster(spec: dict[str, Any] | None = None) -> ResolvedCluster:
    """The full example (``spec`` merged in), in a namespace of its own, on subnets and an EKS
    cluster in moto."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=unique("sg"), Description="db", VpcId=vpc)
    eks = unique("eks")
    boto3.client("eks").create_cluster(
        name=eks,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
        resourcesVpcConfig={"subnetIds": subnets},
    )
    namespace = unique("render")
    patch: dict[str, Any] = {
        "metadata": {"namespace": namespace},
        "spec": {
            "fargate": {"clusterName": eks, "profile": {"subnets": subnets}},
            "database": {"rds": {"subnetIds": subnets, "securityGroupIds": [group["GroupId"]]}},
            "ecs": {"cluster": {"name": unique("farflow-tasks")}, "subnets": subnets},
            "logging": {"cloudwatch": {"logGroup": f"/farflow/{namespace}/full"}},
        },
    }
    return resolve(parse(merged(merged(load(FULL), patch), {"spec": spec or {}})))


def gathered_until_complete(cluster: ResolvedCluster) -> Gathered:
    """gather, again while AWS is still creating something (moto is quick)."""
    passes: list[Gathered] = []

    def complete() -> bool:
        passes.append(gather(cluster))
        return passes[-1].facts is not None

    wait_until(complete, 60, "every AWS resource of the full example")
    return passes[-1]


def test_offline_facts_equal_what_gather_creates(aws: AwsProxy) -> None:
    cluster = full_cluster()
    gathered = gathered_until_complete(cluster)
    assert gathered.errors == []
    assert offline(cluster, ACCOUNT) == gathered.facts


def test_what_gather_creates_carries_the_resolved_names(aws: AwsProxy) -> None:
    cluster = full_cluster()
    status = gathered_until_complete(cluster).status
    names = cluster.aws_names
    assert status.dag_bucket == names.dag_bucket
    assert sorted(url.rsplit("/", 1)[-1] for url in status.queue_urls.values()) == sorted(
        queue.sqs for queue in names.queues
    )
    assert status.log_group_arn == (f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{names.log_group}")
    assert names.rds is not None
    assert status.database is not None
    assert status.database.instance is not None
    assert status.database.instance.endswith(f":db:{names.rds.instance}")
    assert status.fargate_profile is not None
    assert status.fargate_profile.name is not None
    assert status.fargate_profile.name.startswith(f"{names.fargate_profile}-")
    assert names.ecs is not None
    assert status.ecs_cluster is not None
    assert status.ecs_cluster.endswith(f":cluster/{names.ecs.cluster}")
    families = boto3.client("ecs").list_task_definition_families(status="ACTIVE")["families"]
    assert names.ecs.task_family in families
    # The Ecs executor's comes with the plan and the Secrets (farflow.ecs_executor).
    assert names.ecs.executor_family not in families


def test_a_pinned_task_image_reaches_its_task_definition(aws: AwsProxy) -> None:
    task = f"example.com/task@sha256:{'b' * 64}"
    cluster = full_cluster({"ecs": {"taskImage": task}})
    gathered_until_complete(cluster)
    names = cluster.aws_names.ecs
    assert names is not None
    found = boto3.client("ecs").describe_task_definition(taskDefinition=names.task_family)
    assert found["taskDefinition"]["containerDefinitions"][0]["image"] == task
