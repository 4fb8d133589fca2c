"""The example DAGs run to success on the cluster the operator planned: Celery through SQS,
ECS Fargate tasks and EMR Serverless in moto, pods in the local control plane."""

from __future__ import annotations

import hashlib
import json
import socket
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import STARTUP_KEY, Stack
from tests.e2e.dag_runs import Run

pytestmark = pytest.mark.e2e


def succeeded(runs: dict[str, Run], dag_id: str) -> Run:
    run = runs[dag_id]
    assert run.state == "success", f"{dag_id}: {run.tasks}"
    return run


def s3_json(stack: Stack, key: str) -> Any:
    s3 = boto3.client("s3")
    return json.loads(s3.get_object(Bucket=stack.data_bucket, Key=key)["Body"].read())


def test_etl_celery_runs_on_the_workers_through_sqs(stack: Stack, runs: dict[str, Run]) -> None:
    run = succeeded(runs, "etl_celery")
    summary = s3_json(stack, f"output/etl_celery/{run.run_id}/summary.json")
    assert summary["customers"]["acme"]["total"] == "135.75"
    worker_log = stack.running["worker"].log.read_text()
    assert "etl_celery" in worker_log
    # The workers' queue is the SQS queue the operator created: every message was consumed.
    sqs = boto3.client("sqs")
    [queue_url] = stack.facts.queue_urls.values()
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_ecs_dag_runs_the_registered_task_definition(stack: Stack, runs: dict[str, Run]) -> None:
    run = succeeded(runs, "ecs_dag")
    ecs_facts = stack.facts.ecs
    assert ecs_facts is not None
    ecs = boto3.client("ecs")
    arns = ecs.list_tasks(cluster=ecs_facts.cluster)["taskArns"]  # moto keeps stopped ones
    tasks = ecs.describe_tasks(cluster=ecs_facts.cluster, tasks=arns)["tasks"]
    [task] = [t for t in tasks if _overrides(t).get("OUTPUT_URI", "").find(run.run_id) > 0]
    # The operator names the task definition by family: its latest revision ran.
    assert ecs_facts.task_definition is not None
    latest = ecs.describe_task_definition(taskDefinition=ecs_facts.task_definition)
    assert task["taskDefinitionArn"] == latest["taskDefinition"]["taskDefinitionArn"]
    assert task["launchType"] == "FARGATE"
    assert task["lastStatus"] == "STOPPED"
    assert task["containers"][0]["exitCode"] == 0
    subnets = ecs_facts.network_configuration["awsvpcConfiguration"]["subnets"]
    attached = {d["value"] for a in task["attachments"] for d in a["details"]}
    assert set(subnets) <= attached
    assert _overrides(task)["INPUT_URI"] == f"s3://{stack.data_bucket}/input/orders.csv"


def _overrides(task: dict[str, Any]) -> dict[str, str]:
    containers = task.get("overrides", {}).get("containerOverrides", [])
    return {e["name"]: e["value"] for c in containers for e in c.get("environment", [])}


def test_emr_dag_runs_a_serverless_job(stack: Stack, runs: dict[str, Run]) -> None:
    run = succeeded(runs, "emr_dag")
    emr = boto3.client("emr-serverless")
    [application] = emr.list_applications()["applications"]
    [job] = emr.list_job_runs(applicationId=application["id"])["jobRuns"]
    assert job["name"] == f"farflow-emr-dag-{run.run_id}"
    assert job["state"] == "SUCCESS"
    described = emr.get_job_run(applicationId=application["id"], jobRunId=job["id"])["jobRun"]
    entry_point = described["jobDriver"]["sparkSubmit"]["entryPoint"]
    assert entry_point == f"s3://{stack.data_bucket}/emr/order_totals.py"


def test_pod_dag_runs_a_fargate_pod(stack: Stack, runs: dict[str, Run]) -> None:
    succeeded(runs, "pod_dag")
    [pod] = stack.kubelet.pods("kubernetes_pod_operator")
    spec = pod["spec"]
    assert pod["metadata"]["labels"]["farflow.io/fargate"] == "true"
    [container] = spec["containers"]
    assert container["resources"]["requests"] == container["resources"]["limits"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["INPUT_URI"] == f"s3://{stack.data_bucket}/input/orders.csv"


def test_kubernetes_executor_runs_the_task_in_its_own_pod(
    stack: Stack, runs: dict[str, Run]
) -> None:
    run = succeeded(runs, "kubernetes_executor_dag")
    [pod] = stack.kubelet.pods("kubernetes_executor")
    [container] = pod["spec"]["containers"]
    assert container["name"] == "base"
    assert container["image"] == stack.plan.image
    assert pod["metadata"]["labels"]["farflow.io/fargate"] == "true"
    assert container["envFrom"] == [{"configMapRef": {"name": stack.plan.names.config_map}}]
    [task_id] = run.tasks
    result = stack.api.xcom("kubernetes_executor_dag", run.run_id, task_id)
    payload = "".join(f"{n},{n * n}\n" for n in range(10_000)).encode()
    assert result["sha256"] == hashlib.sha256(payload).hexdigest()
    assert result["hostname"] == socket.gethostname()  # the pod's container ran here
    name = pod["metadata"]["name"]
    bootstrap = (stack.logs / f"pod-{name}-bootstrap.log").read_text()
    assert f"s3://{stack.data_bucket}/{STARTUP_KEY}" in bootstrap
    assert "the e2e startup script ran" in (stack.logs / f"pod-{name}-base.log").read_text()


def test_every_component_sources_the_startup_script(stack: Stack) -> None:
    for component in (c for c in stack.plan.components if c.airflow):
        log = (stack.logs / f"{component.name}.log").read_text()
        assert "the e2e startup script ran" in log, component.name


def test_ecs_executor_runs_the_task_in_an_ecs_task_of_its_definition(
    stack: Stack, runs: dict[str, Run]
) -> None:
    """The task ran in an ECS task of the executor's task definition (its container run by
    tests/e2e/ecs_agent.py), configured by that definition alone: the settings as plain
    values, the secrets from Secrets Manager, the execution API at the load balancer."""
    run = succeeded(runs, "ecs_executor_dag")
    [task_id] = run.tasks
    assert stack.api.xcom("ecs_executor_dag", run.run_id, task_id) == 4  # orders in the CSV
    assert stack.ecs_agent is not None
    [task_instance] = stack.api.task_instances("ecs_executor_dag", run.run_id)
    ended = stack.ecs_agent.ended()
    matching = [r for r in ended if task_instance["id"] in r.argv[-1]]
    assert len(matching) == 1, ended
    [ran] = matching
    assert ran.exit_code == 0
    # The definition's entry point bootstraps (the cluster has a startup script), then runs
    # the executor's command.
    bash, flag, script, name, *command = ran.argv[len(stack.site.entrypoint) :]
    assert (bash, flag, name) == ("bash", "-c", "farflow-ecs-task")
    assert script.startswith("python -m farflow_bootstrap && ")
    assert command[:3] == ["python", "-m", "airflow.sdk.execution_time.execute_workload"]
    task_log = (stack.logs / f"ecs-task-{ran.task_arn.rsplit('/', 1)[-1]}.log").read_text()
    assert f"saved the startup script s3://{stack.data_bucket}/{STARTUP_KEY}" in task_log
    assert "the e2e startup script ran" in task_log
    ecs = boto3.client("ecs")
    [task] = ecs.describe_tasks(cluster=stack.facts.ecs.cluster, tasks=[ran.task_arn])["tasks"]  # type: ignore[union-attr]
    assert (task["lastStatus"], task["containers"][0]["exitCode"]) == ("STOPPED", 0)
    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
    [container] = definition["taskDefinition"]["containerDefinitions"]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert ".elb." in environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    secrets = {s["name"] for s in container["secrets"]}
    assert "AIRFLOW__CORE__FERNET_KEY" in secrets
    assert "AIRFLOW__CORE__FERNET_KEY" not in environment
    fernet = stack.containers["worker"].env["AIRFLOW__CORE__FERNET_KEY"]
    assert ran.env["AIRFLOW__CORE__FERNET_KEY"] == fernet  # read from Secrets Manager
    assert fernet not in json.dumps(definition, default=str)
