"""
### kubernetes_executor_dag: one task on the Kubernetes executor

The task runs in its own pod (the Airflow image, in the task namespace, on Fargate) instead of
on a Celery worker. It needs no external service: it computes the SHA-256 of a deterministic
payload and returns it, with the payload's size and the pod's hostname, to XCom. The checksum
is always `expected_sha256()` of this file, so a caller can check the result.

Needs `Kubernetes` among the AirflowCluster's `spec.airflow.executors`; FarFlow writes
`KubernetesExecutor` into `[core] executor`, and a task's `executor=` matches it by that name.

Reads no Variable and no Connection.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from datetime import timedelta

from airflow.sdk import dag, task

log = logging.getLogger(__name__)

KUBERNETES_EXECUTOR = "KubernetesExecutor"


def payload() -> bytes:
    """10,000 lines of ``n,n squared``: the same bytes on every run and every machine."""
    return "".join(f"{n},{n * n}\n" for n in range(10_000)).encode()


def expected_sha256() -> str:
    return hashlib.sha256(payload()).hexdigest()


@dag(
    dag_id="kubernetes_executor_dag",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["farflow", "kubernetes", "executor", "example"],
    default_args={"owner": "farflow", "retries": 1, "retry_delay": timedelta(minutes=1)},
)
def kubernetes_executor_dag() -> None:
    @task(executor=KUBERNETES_EXECUTOR)
    def checksum() -> dict[str, str | int]:
        """SHA-256 and size of the payload, and the host (the pod) that computed them."""
        data = payload()
        result: dict[str, str | int] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "hostname": socket.gethostname(),
        }
        log.info("sha256 %s of %d bytes, computed on %s", *result.values())
        return result

    checksum()


kubernetes_executor_dag()
