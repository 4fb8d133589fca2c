"""The worker autoscaler on the real API server, with the Celery queue in moto's SQS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from farflow.objects import CONFIG_HASH_ANNOTATION
from tests.cases import merged
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


def workers(local_cluster: Any, namespace: str) -> Any:
    return get_json(local_cluster, "-n", namespace, "deployment/minimal-worker")


def replicas(local_cluster: Any, namespace: str) -> int:
    return int(workers(local_cluster, namespace)["spec"]["replicas"])


def config_hash(local_cluster: Any, namespace: str) -> str:
    template = workers(local_cluster, namespace)["spec"]["template"]
    return str(template["metadata"]["annotations"][CONFIG_HASH_ANNOTATION])


def test_queued_tasks_raise_the_workers_and_an_empty_queue_takes_them_to_zero(
    local_cluster: Any, namespace: str, operators: Operators, aws_env: None
) -> None:
    operators.start("--autoscale-seconds", "1")
    apply_cluster(local_cluster, namespace, AUTOSCALED)
    wait_ready(local_cluster, namespace)
    wait_for(lambda: replicas(local_cluster, namespace) == 0, 30, "no worker while idle")
    status = get_json(local_cluster, "-n", namespace, "af/minimal")["status"]
    url = status["aws"]["queueUrls"]["default"]
    sqs = boto3.client("sqs")
    for number in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"task {number}")

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
    sqs.purge_queue(QueueUrl=url)
    wait_for(lambda: replicas(local_cluster, namespace) == 0, 60, "no worker once drained")
    events = get_json(
        local_cluster, "-n", namespace, "events", "--field-selector", "reason=WorkersScaled"
    )
    messages = [event["message"] for event in events["items"]]
    assert any(message.startswith("0 -> 3 workers: 5 waiting") for message in messages)
    assert any(message.startswith("3 -> 0 workers") for message in messages)


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
