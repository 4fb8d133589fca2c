"""
### pod_dag: the orders filter as a Kubernetes pod on Fargate

`KubernetesPodOperator` runs the `tasks/pod_task` image (the Variable `pod_task_image`) as a
pod in the task namespace FarFlow prepared, with its service account (IRSA gives the pod its
S3 rights) and the label the Fargate profile selects. The container reads `INPUT_URI`
(`s3://{data_bucket}/input/orders.csv`) and writes `OUTPUT_URI`
(`s3://{data_bucket}/output/pod_dag/{run_id}/orders.csv`); its log is streamed into this
task's log and the pod is deleted when it finishes.

The pod meets Pod Security "restricted" and is the smallest Fargate pod (0.25 vCPU, 0.5 GB).

Reads, at run time through Jinja: the Variables `farflow_pods` (JSON, written by the operator:
namespace, service_account, labels), `pod_task_image` and `data_bucket` (plain strings), and
the Connection `kubernetes_default`.

The DAG renders its templates as native objects, so `labels` arrives as the Variable's dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import dag
from kubernetes.client import models as k8s

INPUT_URI = "s3://{{ var.value.data_bucket }}/input/orders.csv"
OUTPUT_URI = "s3://{{ var.value.data_bucket }}/output/pod_dag/{{ run_id }}/orders.csv"

# Fargate needs requests equal to limits and sizes the pod from them plus the 256 MiB it
# reserves for its own components: 0.25 vCPU and 256 Mi + 256 Mi = 0.5 GB, the smallest valid
# Fargate pod (0.25 vCPU with 0.5, 1 or 2 GB). Anything larger is rounded up to the next size.
FARGATE_SMALLEST = {"cpu": "250m", "memory": "256Mi"}


def pods(field: str) -> str:
    """A Jinja template for one field of the `farflow_pods` Variable, read when the task runs."""
    return "{{ var.json.farflow_pods." + field + " }}"


class FargatePodOperator(KubernetesPodOperator):
    """KubernetesPodOperator whose ``service_account_name`` is templated too, so it can come
    from the `farflow_pods` Variable when the task runs (the provider does not template it)."""

    template_fields: Sequence[str] = (
        *KubernetesPodOperator.template_fields,
        "service_account_name",
    )


@dag(
    dag_id="pod_dag",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["farflow", "kubernetes", "fargate", "example"],
    default_args={"owner": "farflow", "retries": 1, "retry_delay": timedelta(minutes=1)},
    render_template_as_native_obj=True,
)
def pod_dag() -> None:
    FargatePodOperator(
        task_id="filter_orders",
        kubernetes_conn_id="kubernetes_default",
        name="pod-task",
        image="{{ var.value.pod_task_image }}",
        namespace=pods("namespace"),
        service_account_name=pods("service_account"),
        labels=pods("labels"),
        env_vars={"INPUT_URI": INPUT_URI, "OUTPUT_URI": OUTPUT_URI},
        container_resources=k8s.V1ResourceRequirements(
            requests=dict(FARGATE_SMALLEST), limits=dict(FARGATE_SMALLEST)
        ),
        # Pod Security "restricted": non-root (the pod_task image's user 10001), the runtime's
        # default seccomp profile, no privilege escalation, no capabilities.
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=10001,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        container_security_context=k8s.V1SecurityContext(
            allow_privilege_escalation=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
        ),
        get_logs=True,
        on_finish_action="delete_pod",
        deferrable=False,
        # Fargate starts a node for each pod: allow for that and the image pull.
        startup_timeout_seconds=600,
    )


pod_dag()
