"""The e2e tier: the Airflow 3 cluster the operator plans for examples/airflowcluster-tasks.yaml,
run on this machine.

The operator's own code does the work, by the same path as `farflow dev`: `gather` creates
the cluster's AWS resources in moto (SQS queues, DAG bucket, log group, ECS cluster and task
definitions, admin password), `plan` and `manifests` render it (farflow.dev.cluster.render),
the migration Job runs as `farflow dev` runs it, and farflow.local runs each container of
those manifests as a process with exactly its command and environment. PostgreSQL comes
from Debian's packages; the Kubernetes objects other than the workloads are applied to the
local control plane, where the Kubernetes executor and KubernetesPodOperator create their
pods. Unlike `farflow dev`, nothing restarts a component that ends: the tests see it end.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from kubernetes import config

from farflow import ecs_executor
from farflow.api import parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.dev.cluster import Rendered, render
from farflow.dev.supervisor import Supervisor
from farflow.kube.client import Kube
from farflow.local import LocalProcess, Objects, Site, container_process, processes
from farflow.local.process import run_to_completion, start_container
from farflow.objects import Manifest, Owner
from farflow.plan import AwsFacts, Plan
from farflow.reconcile import secrets_read
from tests.cases import ROOT
from tests.controlplane.localcluster import LocalCluster
from tests.e2e.airflow_api import AirflowApi
from tests.e2e.browser import browser, page  # noqa: F401  (fixtures of the UI tests)
from tests.e2e.dag_runs import DAGS, Run, run_all
from tests.e2e.ecs_agent import EcsAgent
from tests.e2e.kubelet import ProcessKubelet
from tests.e2e.memory import MemorySampler
from tests.fixtures.aws import AIRFLOW_PODS_KEY
from tests.fixtures.aws_proxy import AwsProxy
from tests.fixtures.controlplane import temporary_namespace
from tests.fixtures.operator import give_a_load_balancer
from tests.fixtures.postgres import Postgres
from tests.fixtures.processes import Process, answers, wait_until

EXAMPLE = ROOT / "examples" / "airflowcluster-tasks.yaml"
DAG_FOLDERS = (ROOT / "airflow" / "dags", Path(__file__).with_name("dags"))
# The orders the example DAGs read: the same file `farflow dev` puts in its S3.
INPUT_CSV = ROOT / "airflow" / "dev-s3" / "farflow-example-data" / "input" / "orders.csv"
EMR_SCRIPT = "print('order totals')\n"
# spec.airflow.startupScript, in the data bucket: every Airflow container sources it.
STARTUP_KEY = "startup/startup.sh"
STARTUP_SCRIPT = "echo 'the e2e startup script ran'\nexport AIRFLOW_VAR_STARTUP_RAN=yes\n"
WORKLOADS = ("Job", "Deployment")


@dataclass
class Stack:
    """The running cluster: its plan, its containers as processes, and the ways in."""

    plan: Plan
    facts: AwsFacts
    manifests: list[Manifest]  # what the operator renders, the database Secret first
    # Each workload's container, by name, resolved once; their env holds secrets: no repr.
    containers: dict[str, LocalProcess] = field(repr=False)
    site: Site
    api: AirflowApi
    running: dict[str, Process]  # by log name: every process started, the replaced too
    kubelet: ProcessKubelet
    logs: Path
    data_bucket: str
    current: dict[str, Process] = field(default_factory=dict)  # by component: the newest
    memory: MemorySampler | None = None  # the peak memory of each component, once started
    ecs_agent: EcsAgent | None = None  # runs the Ecs executor's tasks, once started

    def main_pids(self) -> dict[str, int]:
        """Each running component's main process: its container's PID 1."""
        return {
            name: process.popen.pid
            for name, process in self.current.items()
            if process.popen is not None and process.alive()
        }

    def dead(self) -> list[str]:
        """Components that exited; a worker killed (and so reaped) on purpose is not among
        them."""
        return [
            name
            for name, process in self.running.items()
            if process.popen is not None and not process.alive()
        ]

    def assert_alive(self) -> None:
        dead = self.dead()
        assert not dead, f"{dead} exited:\n{_tails(self.running)}"

    def start(self, name: str, log_name: str | None = None) -> Process:
        """Component ``name``'s container, once its init containers ran to success."""
        local, log_name = self.containers[name], log_name or name
        for init in local.init:
            run_to_completion(init, self.logs / f"{log_name}-{init.name}.log")
        started = start_container(local, self.logs / f"{log_name}.log")
        self.running[log_name] = self.current[name] = started
        return started


def _cluster_manifest(namespace: str, network: tuple[str, str], emr_app: str) -> dict[str, Any]:
    """The example, pointed at what exists in moto: the network and the EMR application;
    with a startup script, as MWAA users bring one."""
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"]["namespace"] = namespace
    script = {"bucket": _data_bucket_name(manifest), "key": STARTUP_KEY}
    manifest["spec"]["airflow"]["startupScript"] = script
    for env in manifest["spec"]["airflow"]["env"]:
        if env["name"] == "AIRFLOW_VAR_EMR_SERVERLESS":
            env["value"] = json.dumps(json.loads(env["value"]) | {"application_id": emr_app})
    subnet, security_group = network
    manifest["spec"]["ecs"] |= {"subnets": [subnet], "securityGroupIds": [security_group]}
    return manifest


def _fargate_network(region: str) -> tuple[str, str]:
    """A subnet and security group in a VPC with DNS hostnames, as awsvpc tasks need (moto's
    run_task with FARGATE insists on all three)."""
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="farflow-tasks", Description="tasks", VpcId=vpc)
    return str(subnet), str(group["GroupId"])


def _emr_application(region: str) -> str:
    """The team's long-lived EMR Serverless application that emr_dag runs its job on."""
    emr = boto3.client("emr-serverless", region_name=region)
    created = emr.create_application(name="farflow-e2e", releaseLabel="emr-7.5.0", type="SPARK")
    return str(created["applicationId"])


def _upload(bucket: str, prefix: str, region: str) -> None:
    s3 = boto3.client("s3", region_name=region)
    for folder in DAG_FOLDERS:
        for dag_file in sorted(folder.glob("*.py")):
            s3.upload_file(str(dag_file), bucket, f"{prefix}{dag_file.name}")


def _data_bucket_name(manifest: dict[str, Any]) -> str:
    env = {e["name"]: e.get("value") for e in manifest["spec"]["airflow"]["env"]}
    return str(env["AIRFLOW_VAR_DATA_BUCKET"])


def _data_bucket(manifest: dict[str, Any], region: str) -> str:
    bucket = _data_bucket_name(manifest)
    s3 = boto3.client("s3", region_name=region)
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(INPUT_CSV), bucket, "input/orders.csv")
    s3.put_object(Bucket=bucket, Key="emr/order_totals.py", Body=EMR_SCRIPT.encode())
    s3.put_object(Bucket=bucket, Key=STARTUP_KEY, Body=STARTUP_SCRIPT.encode())
    return bucket


def _apply_objects(cluster: LocalCluster, namespace: str, objects: list[Manifest]) -> None:
    """Everything but the workloads, so pods the executors create find their ServiceAccount,
    ConfigMaps and Secrets as in EKS."""
    wanted = [m for m in objects if m["kind"] not in WORKLOADS]
    documents = yaml.safe_dump_all(wanted)
    cluster.kubectl("-n", namespace, "apply", "--server-side", "-f", "-", input=documents)


@contextmanager
def ecs_tasks_run_to_completion(moto: str) -> Iterator[None]:
    """moto's ECS tasks stay where run_task left them unless its state manager moves them: with
    "immediate" progression each DescribeTasks moves a task one state on, to STOPPED with exit
    code 0. Set for the e2e session only."""
    manager = f"{moto}/moto-api/state-manager"
    transition = {"model_name": "ecs::task", "transition": {"progression": "immediate"}}
    _post(f"{manager}/set-transition", transition)
    try:
        yield
    finally:
        _post(f"{manager}/unset-transition", {"model_name": "ecs::task"})


def _post(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture(scope="package")
def e2e_namespace(local_cluster: LocalCluster) -> Iterator[str]:
    yield from temporary_namespace(local_cluster, "e2e")


@pytest.fixture(scope="package")
def stack(  # noqa: PLR0917  (pytest passes fixtures by position)
    local_cluster: LocalCluster,
    e2e_namespace: str,
    crd: None,
    aws_proxy: AwsProxy,
    moto_server: dict[str, str],
    postgres: Postgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    saved = dict(os.environ)
    os.environ.update(moto_server)  # gather() and the test's own boto3 clients reach moto
    try:
        with ecs_tasks_run_to_completion(aws_proxy.upstream):
            yield from _stack(
                local_cluster, e2e_namespace, postgres, tmp_path_factory,
                proxy=aws_proxy, moto=moto_server,
            )  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="package")
def runs(stack: Stack) -> dict[str, Run]:
    """Every example DAG, triggered at once and run to its end; once for the package."""
    return run_all(stack, DAGS)


def _stack(
    cluster: LocalCluster,
    namespace: str,
    postgres: Postgres,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    proxy: AwsProxy,
    moto: dict[str, str],
) -> Iterator[Stack]:
    region = moto["AWS_REGION"]
    manifest = _cluster_manifest(namespace, _fargate_network(region), _emr_application(region))
    resolved = resolve(parse(copy.deepcopy(manifest)))
    data_bucket = _data_bucket(manifest, region)  # before gather pins the startup script
    made = _operator_render(cluster, manifest, resolved, postgres)
    planned, facts, rendered = made.plan, made.facts, made.manifests
    _apply_objects(cluster, namespace, rendered)
    _register_the_ecs_executor(cluster, resolved, planned, facts)
    assert resolved.aws_names.dag_bucket is not None
    prefix = manifest["spec"]["dags"]["s3"]["prefix"]
    _upload(resolved.aws_names.dag_bucket, prefix, region)

    home = tmp_path_factory.mktemp("airflow-home")
    logs = tmp_path_factory.mktemp("airflow-logs")
    # What a pod has besides its containers' env: a PATH with Airflow, a home, and AWS
    # credentials (IRSA in EKS; moto's here).
    site_env = {
        **moto,
        "AWS_ACCESS_KEY_ID": AIRFLOW_PODS_KEY,  # IRSA's role, for docs/iam-airflow-policy.json
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }
    site = Site(home=home, kubeconfig=cluster.kubeconfig, env=site_env)
    objects = Objects(rendered)
    admin = planned.admin_password
    username = manifest["spec"].get("admin", {}).get("username", "admin")
    api = AirflowApi(site.api_url, username, objects.get("Secret", admin.name, admin.key))
    resolve_pod = partial(container_process, objects=objects, site=site)
    kubelet = ProcessKubelet(cluster.kubeconfig, namespace, resolve_pod, logs)
    built = Stack(
        plan=planned,
        facts=facts,
        manifests=rendered,
        containers={p.name: p for p in processes(rendered, objects, site)},
        site=site,
        api=api,
        running={},
        kubelet=kubelet,
        logs=logs,
        data_bucket=data_bucket,
    )
    assert facts.ecs is not None
    assert facts.ecs.executor_task_definition is not None
    agent = EcsAgent(proxy, facts.ecs.executor_task_definition, site, logs)
    try:
        _start(built)
        with kubelet, agent, MemorySampler(built.main_pids) as built.memory:
            built.ecs_agent = agent
            yield built
    finally:
        for process in built.running.values():
            process.stop()
        print(_tails(built.running))


def _operator_render(
    cluster: LocalCluster, manifest: dict[str, Any], resolved: ResolvedCluster, postgres: Postgres
) -> Rendered:
    """What the operator does for the AirflowCluster: its AWS resources (in moto), its plan
    and its manifests, owned by the object in the control plane; plus the user's database
    Secret, pointing at PostgreSQL."""
    namespace = manifest["metadata"]["namespace"]
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(manifest))
    live = yaml.safe_load(
        cluster.kubectl("-n", namespace, "get", "airflowcluster", "tasks", "-o", "yaml").stdout
    )
    owner = Owner(live["apiVersion"], live["kind"], "tasks", live["metadata"]["uid"])
    return render(resolved, postgres.sqlalchemy_url, owner)


def _register_the_ecs_executor(
    cluster: LocalCluster, resolved: ResolvedCluster, planned: Plan, facts: AwsFacts
) -> None:
    """What the operator does once the Secrets exist and the API server's load balancer has
    an address: the Ecs executor's task definition, its secrets mirrored to Secrets Manager."""
    host = f"internal-{planned.names.service}-0123456789.elb.{facts.region}.amazonaws.com"
    give_a_load_balancer(cluster, resolved.namespace, planned.names.service, host)
    kube = Kube(config.new_client_from_config(config_file=str(cluster.kubeconfig)))
    wanted = ecs_executor.definition(
        resolved, planned, facts, kube, secrets_read(planned, {}, kube)
    )
    assert isinstance(wanted, ecs_executor.ExecutorDefinition), wanted
    ecs_executor.register(resolved, wanted, facts.region)


def _start(stack: Stack) -> None:
    """The migration Job's container to completion, as the Job would run it; then every
    component, until the API server answers."""
    # airflow db migrate and the admin user, after the preflight, as `farflow dev` runs it
    Supervisor(stack.logs, print).run_job(stack.containers["migrate"])
    for component in stack.plan.components:
        stack.start(component.name)
    health = f"{stack.site.api_url}/api/v2/monitor/health"
    wait_until(lambda: answers(health) or bool(stack.dead()), 180, "the API server answering")
    stack.assert_alive()


def _tails(running: dict[str, Process]) -> str:
    return "\n".join(f"--- {name} ---\n{p.tail(60)}" for name, p in running.items())
