"""The worker autoscaler on the real API server, with the Celery queue in moto's SQS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from kubernetes import config

from farflow.kube.client import Kube
from farflow.objects import CONFIG_HASH_ANNOTATION
from farflow.scaler import mark_deletion_costs
from tests.cases import merged
from tests.cluster.test_controlplane import names, run_deployment
from tests.fixtures.operator import (
    Operators,
    apply_cluster,
    get_json,
    sleep_resyncs,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.cluster
AUTOSCALED = {
    "spec": {
        "workers": {
            "minReplicas": 0,
            "maxReplicas": 4,
            "concurrency": 4,
            "autoscaling": {"tasksPerWorker": 2, "scaleDownDelaySeconds": 10},
        }
    }
}


def workers(local_cluster: Any, namespace: str, deployment: str = "minimal-worker") -> Any:
    return get_json(local_cluster, "-n", namespace, f"deployment/{deployment}")


def replicas(local_cluster: Any, namespace: str, deployment: str = "minimal-worker") -> int:
    return int(workers(local_cluster, namespace, deployment)["spec"]["replicas"])


def config_hash(local_cluster: Any, namespace: str) -> str:
    template = workers(local_cluster, namespace)["spec"]["template"]
    return str(template["metadata"]["annotations"][CONFIG_HASH_ANNOTATION])


def start_autoscaled(local_cluster: Any, namespace: str, operators: Operators) -> None:
    """The operator looking every second, and the AUTOSCALED cluster ready."""
    operators.start("--autoscale-seconds", "1")
    apply_cluster(local_cluster, namespace, AUTOSCALED)
    wait_ready(local_cluster, namespace)


def queue_tasks(local_cluster: Any, namespace: str, count: int, queue: str = "default") -> str:
    """``count`` (up to 10) messages on the cluster's ``queue``, as Celery's, in one request,
    so the autoscaler sees all or none of them; returns its URL."""
    status = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]
    url = str(status["aws"]["queueUrls"][queue])
    entries = [{"Id": str(n), "MessageBody": f"task {n}"} for n in range(count)]
    boto3.client("sqs").send_message_batch(QueueUrl=url, Entries=entries)
    return url


def test_queued_tasks_raise_the_workers_and_an_empty_queue_takes_them_to_zero(
    local_cluster: Any, namespace: str, operators: Operators, aws_env: None
) -> None:
    start_autoscaled(local_cluster, namespace, operators)
    wait_for(lambda: replicas(local_cluster, namespace) == 0, 30, "no worker while idle")
    url = queue_tasks(local_cluster, namespace, 5)

    wait_for(lambda: replicas(local_cluster, namespace) == 3, 15, "ceil(5 / 2) workers")
    before = config_hash(local_cluster, namespace)
    edit = {"spec": {"airflow": {"config": {"core": {"parallelism": "64"}}}}}
    apply_cluster(local_cluster, namespace, merged(AUTOSCALED, edit))
    wait_for(lambda: config_hash(local_cluster, namespace) != before, 60, "workers rolled")
    assert replicas(local_cluster, namespace) == 3  # the rollout kept the autoscaler's count

    def reported() -> bool:
        shown = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]["workers"]
        return bool(shown["waiting"] == 5 and shown["readyOfDesired"].endswith("/3"))

    wait_for(reported, 30, "status.workers with the queue's depth")
    boto3.client("sqs").purge_queue(QueueUrl=url)
    wait_for(lambda: replicas(local_cluster, namespace) == 0, 60, "no worker once drained")
    events = get_json(
        local_cluster, "-n", namespace, "events", "--field-selector", "reason=WorkersScaled"
    )
    messages = [event["message"] for event in events["items"]]
    # Up to 3 for the 5 waiting (in one step unless a look fell inside moto's batch).
    assert any(message.startswith("worker: 0 -> ") for message in messages)
    assert any(" -> 3 workers: 5 waiting" in message for message in messages)
    assert any(message.startswith("worker: 3 -> 0 workers") for message in messages)


def test_a_pool_scales_on_its_own_queue_alone(
    local_cluster: Any, namespace: str, operators: Operators, aws_env: None
) -> None:
    large = {"name": "large", "queues": ["large"], "minReplicas": 0, "maxReplicas": 3}
    pooled = merged(AUTOSCALED, {"spec": {"workers": {"pools": [
        {**large, "concurrency": 1, "autoscaling": {"scaleDownDelaySeconds": 5}}
    ]}}})  # fmt: skip
    operators.start("--autoscale-seconds", "1")
    apply_cluster(local_cluster, namespace, pooled)
    wait_ready(local_cluster, namespace)
    template = workers(local_cluster, namespace, "minimal-worker-large")["spec"]["template"]
    assert template["spec"]["containers"][0]["args"][3:5] == ["--queues", "large"]
    url = queue_tasks(local_cluster, namespace, 2, "large")

    def scaled() -> bool:
        return replicas(local_cluster, namespace, "minimal-worker-large") == 2

    wait_for(scaled, 15, "a worker of the large pool per task")
    assert replicas(local_cluster, namespace) == 0  # the default pool's queue is empty

    def reported() -> bool:
        shown = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]["workers"]
        pool = shown.get("pools", {}).get("large", {})
        return bool(pool.get("waiting") == 2 and pool.get("readyOfDesired", "").endswith("/2"))

    wait_for(reported, 30, "status.workers.pools.large with its queue's depth")
    boto3.client("sqs").purge_queue(QueueUrl=url)

    def drained() -> bool:
        return replicas(local_cluster, namespace, "minimal-worker-large") == 0

    wait_for(drained, 60, "no worker of the large pool once drained")


def test_without_autoscaling_the_replicas_are_the_users(
    local_cluster: Any, namespace: str, operators: Operators, aws_env: None
) -> None:
    operators.start("--autoscale-seconds", "1")
    manual = {"spec": {"workers": {"minReplicas": 2, "autoscaling": {"enabled": False}}}}
    apply_cluster(local_cluster, namespace, manual)
    wait_ready(local_cluster, namespace)
    assert replicas(local_cluster, namespace) == 2  # minReplicas at creation
    local_cluster.kubectl("-n", namespace, "scale", "deployment/minimal-worker", "--replicas=3")
    edit = {"spec": {"airflow": {"config": {"core": {"parallelism": "64"}}}}}
    apply_cluster(local_cluster, namespace, merged(manual, edit))
    sleep_resyncs(3)
    assert replicas(local_cluster, namespace) == 3


def test_a_scale_in_removes_the_workers_that_run_the_fewest_tasks(
    local_cluster: Any, namespace: str
) -> None:
    run_deployment(local_cluster, namespace, "workers", 3)
    busiest, idle, less_busy = sorted(names(local_cluster, "-n", namespace, "pods"))
    kube = Kube(config.new_client_from_config(str(local_cluster.kubeconfig)))
    live = kube.get("apps/v1", "Deployment", "workers", namespace)
    assert live is not None
    assert mark_deletion_costs(kube, live, {busiest: 2, less_busy: 1, "elsewhere": 4}) == 2

    local_cluster.kubectl("-n", namespace, "scale", "deployment/workers", "--replicas=2")
    wait_for(lambda: idle not in names(local_cluster, "-n", namespace, "pods"), 30, "idle gone")
    local_cluster.kubectl("-n", namespace, "scale", "deployment/workers", "--replicas=1")
    wait_for(lambda: names(local_cluster, "-n", namespace, "pods") == {busiest}, 30, "busiest kept")


def test_with_tasks_in_flight_and_no_word_from_airflow_the_workers_stay(
    local_cluster: Any, namespace: str, operators: Operators, aws_env: None
) -> None:
    start_autoscaled(local_cluster, namespace, operators)
    url, sqs = queue_tasks(local_cluster, namespace, 6), boto3.client("sqs")
    wait_for(lambda: replicas(local_cluster, namespace) == 3, 15, "ceil(6 / 2) workers")
    taken: list[
        dict[str, Any]
    ] = []  # as workers take them: in flight until their tasks end (task_acks_late)
    while len(taken) < 6:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)
        taken += answer.get("Messages", [])
    for message in taken[:5]:  # five tasks end; one still runs
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def held() -> bool:
        reason = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]["workers"]
        return "Airflow cannot tell which run tasks" in (reason.get("reason") or "")

    wait_for(held, 60, "the scale-in held, and why")
    assert replicas(local_cluster, namespace) == 3
    sqs.delete_message(QueueUrl=url, ReceiptHandle=taken[5]["ReceiptHandle"])
    wait_for(lambda: replicas(local_cluster, namespace) == 0, 60, "no task: down without asking")
