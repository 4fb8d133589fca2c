"""The operator creates, uses and deletes the AWS side of a cluster (moto on loopback)."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from farflow.aws.eks import profile_label
from farflow.objects import PROFILE_LABEL
from farflow.tenancy import opt_in_label
from tests.cases import FULL, load, merged
from tests.controlplane.localcluster import KubectlError
from tests.fixtures.aws_proxy import AwsProxy, Fault
from tests.fixtures.operator import (
    Operator,
    apply_cluster,
    create_secret,
    get_json,
    give_a_load_balancer,
    sleep_resyncs,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.cluster


def network() -> tuple[list[str], str]:
    """Two subnets and a security group in a fresh moto VPC."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-east-1{zone}"
        )["Subnet"]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=f"airflow-{vpc}", Description="airflow", VpcId=vpc)[
        "GroupId"
    ]
    return subnets, group


def full_cluster(local_cluster: Any, namespace: str) -> dict[str, Any]:
    subnets, group = network()
    boto3.client("eks").create_cluster(
        name=f"eks-{namespace}",
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": subnets},
    )
    tasks = f"{namespace}-tasks"
    local_cluster.kubectl("create", "namespace", tasks)
    local_cluster.kubectl("label", "namespace", tasks, f"{opt_in_label(namespace)}=true")
    create_secret(local_cluster, namespace, "airflow-admin", password="not-the-real-one")
    create_secret(local_cluster, namespace, "airflow-extra", **{"slack-token": "not-a-token"})
    return merged(
        load(FULL),
        {
            "spec": {
                "fargate": {"clusterName": f"eks-{namespace}", "profile": {"subnets": subnets}},
                "database": {"rds": {"subnetIds": subnets, "securityGroupIds": [group]}},
                "ecs": {
                    "cluster": {"name": f"farflow-tasks-{namespace}"},
                    "subnets": subnets,
                    "securityGroupIds": [group],
                },
                "pods": {"namespace": tasks},
                "logging": {"cloudwatch": {"logGroup": f"/farflow/{namespace}/full"}},
            }
        },
    )


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in status["conditions"] if c["type"] == kind)
    return found


def gone(check: Any) -> bool:
    try:
        check()
    except ClientError:
        return True
    return False


def apply_full(local_cluster: Any, namespace: str, manifest: dict[str, Any]) -> None:
    local_cluster.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(manifest))
    give_a_load_balancer(local_cluster, namespace, "full-api-server", NLB)
    try:
        local_cluster.kubectl(
            "-n", namespace, "wait", "--for=condition=Ready", "--timeout=180s",
            "airflowcluster/full", timeout=190,
        )  # fmt: skip
    except KubectlError:  # say what it waited on
        status = get_json(local_cluster, "-n", namespace, "af/full").get("status", {})
        pytest.fail(f"full is not Ready after 180 s: {json.dumps(status.get('conditions'))}")


def delete_full(local_cluster: Any, namespace: str) -> None:
    """The cluster deleted, and its Service collected: a cluster made again under the name
    must get its load balancer on its own Service, not on the old one going away."""
    local_cluster.kubectl("-n", namespace, "delete", "af/full", "--wait=false")
    gone_too = (("af/full", "the cluster deleted"), ("service/full-api-server", "its Service gone"))
    for kind, what in gone_too:
        wait_for(
            lambda kind=kind: (
                "NotFound"
                in local_cluster.kubectl("-n", namespace, "get", kind, check=False).stderr
            ),
            120,
            what,
        )


def final_snapshots(identifier: str) -> list[str]:
    found = boto3.client("rds").describe_db_snapshots(DBInstanceIdentifier=identifier)
    return sorted(s["DBSnapshotIdentifier"] for s in found["DBSnapshots"])


def test_full_example_creates_everything_and_deletion_cleans_up(
    local_cluster: Any, namespace: str, operator: Operator, aws_env: None
) -> None:
    manifest = full_cluster(local_cluster, namespace)
    apply_full(local_cluster, namespace, manifest)

    cluster = get_json(local_cluster, "-n", namespace, "af/full")
    assert "farflow.io/aws-cleanup" in cluster["metadata"]["finalizers"]
    aws = cluster["status"]["aws"]
    assert aws["database"]["status"] == "available"
    assert aws["fargateProfile"]["status"] == "ACTIVE"
    assert set(aws["queueUrls"]) == {"default", "heavy", "large"}  # large: its worker pool
    database = get_json(local_cluster, "-n", namespace, "secret/full-database")
    assert set(database["data"]) == {"connection"}
    config = get_json(local_cluster, "-n", namespace, "configmap/full-airflow-config")["data"]
    assert config["AIRFLOW__AWS_ECS_EXECUTOR__CLUSTER"] == aws["ecsCluster"]
    assert "full-task" in config["AIRFLOW_VAR_FARFLOW_ECS"]
    logging = get_json(local_cluster, "-n", "aws-observability", "configmap/aws-logging")
    assert f"# BEGIN farflow {namespace}/full" in logging["data"]["output.conf"]
    executor_secret = assert_the_ecs_executor_runs_a_worker(local_cluster, namespace)
    dashboard, alarms = assert_the_dashboard_and_alarms(namespace, aws)

    delete_full(local_cluster, namespace)

    identifier = aws["database"]["instance"].rsplit(":", 1)[-1]
    rds = boto3.client("rds")
    assert gone(lambda: rds.describe_db_instances(DBInstanceIdentifier=identifier))
    uid = cluster["metadata"]["uid"]
    # deletionPolicy: Snapshot keeps one, named for this AirflowCluster object.
    assert final_snapshots(identifier) == [f"{identifier}-final-{uid[:8]}"]
    sqs = boto3.client("sqs")
    for url in aws["queueUrls"].values():
        assert gone(lambda url=url: sqs.get_queue_attributes(QueueUrl=url))
    assert gone(lambda: boto3.client("s3").head_bucket(Bucket=aws["dagBucket"]))
    profiles = boto3.client("eks").list_fargate_profiles(clusterName=f"eks-{namespace}")
    assert profiles["fargateProfileNames"] == []
    clusters = boto3.client("ecs").describe_clusters(clusters=[aws["ecsCluster"]])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters)
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=f"/farflow/{namespace}/")
    assert groups["logGroups"] == []
    logging = get_json(local_cluster, "-n", "aws-observability", "configmap/aws-logging")
    assert f"farflow {namespace}/full" not in logging["data"].get("output.conf", "")
    manager = boto3.client("secretsmanager")
    assert gone(lambda: manager.describe_secret(SecretId=executor_secret)["DeletedDate"])
    cloudwatch = boto3.client("cloudwatch")
    assert gone(lambda: cloudwatch.get_dashboard(DashboardName=dashboard))
    assert cloudwatch.describe_alarms(AlarmNames=alarms)["MetricAlarms"] == []


NLB = "internal-full-api-0123456789.elb.us-east-1.amazonaws.com"


def assert_the_dashboard_and_alarms(namespace: str, aws: dict[str, Any]) -> tuple[str, list[str]]:
    """spec.metrics' dashboard, graphing the cluster's metrics, and its alarms: the scheduler
    heartbeat, and a backlog per SQS queue. Returns their names."""
    cloudwatch, name = boto3.client("cloudwatch"), f"farflow-{namespace}-full"
    body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    lines = [line for widget in body["widgets"][1:] for line in widget["properties"]["metrics"]]
    assert ["FarFlow", "scheduler_heartbeat", "Cluster", f"{namespace}/full"] == lines[0][:4]
    # With several executors, Airflow names each one's gauges after its class.
    graphed = {line[1] for line in lines}
    for executor in ("CeleryExecutor", "KubernetesExecutor", "AwsEcsExecutor"):
        assert f"executor.open_slots.{executor}" in graphed
    assert "executor.open_slots" not in graphed
    queues = sorted(url.rsplit("/", 1)[-1] for url in aws["queueUrls"].values())
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"{name}-")["MetricAlarms"]
    by_name = {alarm["AlarmName"]: alarm for alarm in alarms}
    wanted = [f"{name}-scheduler-heartbeat", *(f"{name}-backlog-{queue}" for queue in queues)]
    assert sorted(by_name) == sorted(wanted)
    heartbeat = by_name[f"{name}-scheduler-heartbeat"]
    assert (heartbeat["EvaluationPeriods"], heartbeat["TreatMissingData"]) == (5, "breaching")
    assert heartbeat["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:airflow-alarms"]
    return name, wanted


def assert_the_ecs_executor_runs_a_worker(local_cluster: Any, namespace: str) -> str:
    """The executor's task definition: the cluster's settings as plain values, reaching the
    execution API through the NLB, and every secret by reference to the Secrets Manager
    secret that mirrors the cluster's Secrets. Returns that secret's ARN."""
    config = get_json(local_cluster, "-n", namespace, "configmap/full-airflow-config")["data"]
    family = config["AIRFLOW__AWS_ECS_EXECUTOR__TASK_DEFINITION"]
    definition = boto3.client("ecs").describe_task_definition(taskDefinition=family)
    [container] = definition["taskDefinition"]["containerDefinitions"]
    assert (
        container["image"]
        == "123456789012.dkr.ecr.us-east-1.amazonaws.com/farflow-airflow:3.3.2-farflow.1"
    )
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"https://{NLB}/execution/"
    assert environment["AIRFLOW__CORE__EXECUTOR"] == config["AIRFLOW__CORE__EXECUTOR"]
    assert (
        environment["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"]
        == (config["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    )
    references = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert set(references) == {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
        "SLACK_WEBHOOK_TOKEN",  # spec.airflow.env, from the Secret airflow-extra
    }  # fmt: skip
    [arn] = {value.rsplit(":", 3)[0] for value in references.values()}  # ARN:KEY::
    mirrored = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    )
    shared = get_json(local_cluster, "-n", namespace, "secret/full-airflow-secrets")["data"]
    fernet = base64.b64decode(shared["fernet-key"]).decode()
    assert mirrored["AIRFLOW__CORE__FERNET_KEY"] == fernet
    assert fernet not in json.dumps(definition)  # no secret value in the task definition
    return str(arn)


def test_access_denied_is_a_condition_and_the_rest_goes_on(
    local_cluster: Any, namespace: str, operator: Operator, aws_env: None, aws_faults: AwsProxy
) -> None:
    aws_faults.faults["logs:CreateLogGroup"] = Fault("denied")
    logs = {"logGroup": f"/farflow/{namespace}/denied"}
    apply_cluster(local_cluster, namespace, {"spec": {"logging": {"cloudwatch": logs}}})

    def reported() -> bool:
        status = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]
        aws = condition(status, "AwsReady")
        return aws["status"] == "False" and "logs:CreateLogGroup" in aws["message"]

    wait_for(reported, 60, "AwsReady=False naming logs:CreateLogGroup")
    status = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]
    assert condition(status, "AwsReady")["reason"] == "AccessDeniedException"
    assert condition(status, "BrokerReady")["status"] == "True"  # the queues went ahead
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=f"/farflow/{namespace}/")
    assert groups["logGroups"] == []
    aws_faults.faults.clear()
    wait_ready(local_cluster, namespace)


def test_a_cluster_made_again_under_its_name_is_deleted_again(
    local_cluster: Any, namespace: str, operator: Operator, aws_env: None
) -> None:
    manifest = full_cluster(local_cluster, namespace)
    uids = []
    for _ in range(2):
        apply_full(local_cluster, namespace, manifest)
        uids.append(get_json(local_cluster, "-n", namespace, "af/full")["metadata"]["uid"])
        delete_full(local_cluster, namespace)
    identifier = f"farflow-{namespace}-full"
    assert final_snapshots(identifier) == sorted(f"{identifier}-final-{uid[:8]}" for uid in uids)


def test_a_stuck_deletion_says_why_and_can_be_let_go(
    local_cluster: Any, namespace: str, operator: Operator, aws_env: None, aws_faults: AwsProxy
) -> None:
    apply_full(local_cluster, namespace, full_cluster(local_cluster, namespace))
    aws_faults.faults["rds:DeleteDBInstance"] = Fault("denied")
    local_cluster.kubectl("-n", namespace, "delete", "af/full", "--wait=false")

    def stuck() -> bool:
        status = get_json(local_cluster, "-n", namespace, "af/full")["status"]
        deleting = condition(status, "Deleting")
        return status["phase"] == "Deleting" and "rds:DeleteDBInstance" in deleting["message"]

    wait_for(stuck, 90, "Deleting naming the denied action")
    status = get_json(local_cluster, "-n", namespace, "af/full")["status"]
    assert condition(status, "Deleting")["reason"] == "AccessDenied"
    assert "farflow.io/skip-aws-cleanup=true" in condition(status, "Deleting")["message"]
    assert "CleanupFailed" in reasons(local_cluster, namespace, "Warning")

    local_cluster.kubectl(
        "-n", namespace, "annotate", "af/full", "farflow.io/skip-aws-cleanup=true"
    )
    wait_for(
        lambda: (
            "NotFound"
            in local_cluster.kubectl("-n", namespace, "get", "af/full", check=False).stderr
        ),
        120,
        "the deletion let go",
    )
    [skipped] = [e for e in events(local_cluster, namespace) if e["reason"] == "CleanupSkipped"]
    assert f"RDS instance farflow-{namespace}-full" in skipped["message"]
    aws_faults.faults.clear()
    instance = f"farflow-{namespace}-full"
    assert boto3.client("rds").describe_db_instances(DBInstanceIdentifier=instance)  # left


def events(local_cluster: Any, namespace: str) -> list[dict[str, Any]]:
    found = get_json(
        local_cluster, "-n", namespace, "events", "--field-selector", "involvedObject.name=full"
    )
    return list(found["items"])


def reasons(local_cluster: Any, namespace: str, kind: str) -> set[str]:
    return {e["reason"] for e in events(local_cluster, namespace) if e["type"] == kind}


def creating(answer: dict[str, Any]) -> dict[str, Any]:
    """An EKS answer, with its Fargate profile still being created (moto's are ACTIVE)."""
    answer["fargateProfile"]["status"] = "CREATING"
    return answer


def test_no_pod_is_made_before_its_fargate_profile_is_active(
    local_cluster: Any, namespace: str, operator: Operator, aws_env: None, aws_faults: AwsProxy
) -> None:
    subnets, _ = network()
    eks = f"eks-{namespace}"
    boto3.client("eks").create_cluster(
        name=eks,
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": subnets},
    )
    for action in ("eks:CreateFargateProfile", "eks:DescribeFargateProfile"):
        aws_faults.rewrites[action] = creating
    profile = {
        "create": True,
        "podExecutionRoleArn": "arn:aws:iam::123456789012:role/farflow/pods",
        "subnets": subnets,
    }
    apply_cluster(
        local_cluster, namespace, {"spec": {"fargate": {"clusterName": eks, "profile": profile}}}
    )

    def waiting() -> bool:
        status = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]
        ready = condition(status, "FargateProfileReady")
        return bool(ready["status"] == "False" and ready["reason"] == "Provisioning")

    wait_for(waiting, 60, "FargateProfileReady=False while the profile is CREATING")
    sleep_resyncs(2)
    for kind in ("jobs", "deployments"):  # nothing that makes a pod
        assert get_json(local_cluster, "-n", namespace, kind)["items"] == []
    aws_faults.rewrites.clear()


def profile_names(eks_cluster: str) -> set[str]:
    return set(
        boto3.client("eks").list_fargate_profiles(clusterName=eks_cluster)["fargateProfileNames"]
    )


def pods_on(local_cluster: Any, namespace: str) -> set[str]:
    """The Fargate profile labels of the cluster's pods that have not finished."""
    pods = get_json(local_cluster, "-n", namespace, "pods", "-l", "farflow.io/cluster=minimal")
    return {
        pod["metadata"]["labels"].get(PROFILE_LABEL, "")
        for pod in pods["items"]
        if pod["status"].get("phase") not in ("Succeeded", "Failed")
    }


def test_a_replaced_profile_is_deleted_only_once_no_pod_is_on_it(
    local_cluster: Any, namespace: str, operator: Operator, aws_env: None
) -> None:
    """A subnet edit replaces the Fargate profile (profiles are immutable), and deleting a
    profile deletes every pod it scheduled: the old one must outlive the pods on it."""
    subnets, _ = network()
    eks = f"eks-{namespace}"
    boto3.client("eks").create_cluster(
        name=eks, roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={}
    )
    role = "arn:aws:iam::123456789012:role/farflow/pods"
    profile = {"create": True, "podExecutionRoleArn": role, "subnets": subnets[:1]}
    apply_cluster(
        local_cluster, namespace, {"spec": {"fargate": {"clusterName": eks, "profile": profile}}}
    )
    wait_ready(local_cluster, namespace)
    [first] = profile_names(eks)
    assert pods_on(local_cluster, namespace) == {profile_label(first)}

    profile["subnets"] = subnets[1:]
    apply_cluster(
        local_cluster, namespace, {"spec": {"fargate": {"clusterName": eks, "profile": profile}}}
    )
    seen: list[tuple[set[str], set[str]]] = []

    def moved() -> bool:
        seen.append((profile_names(eks), pods_on(local_cluster, namespace)))
        names, labels = seen[-1]
        return first not in names and len(names) == 1 and labels == {profile_label(*names)}

    wait_for(moved, 240, "the pods on the new profile and the old one deleted")
    assert [s for s in seen if profile_label(first) in s[1] and first not in s[0]] == []
    assert any(len(names) == 2 for names, _ in seen)  # the two lived side by side
    wait_ready(local_cluster, namespace)
