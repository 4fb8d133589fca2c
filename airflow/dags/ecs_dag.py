"""
### ecs_dag: the orders summary as an ECS Fargate task

`EcsRunTaskOperator` runs the `tasks/ecs_task` image through the task definition FarFlow
registered for it, on FarFlow's ECS cluster, and waits for it to stop. The container reads
`INPUT_URI` (`s3://{data_bucket}/input/orders.csv`) and writes a per-customer JSON summary to
`OUTPUT_URI` (`s3://{data_bucket}/output/ecs_dag/{run_id}/summary.json`). Its log lines are
read back from CloudWatch into this task's log while it runs.

Reads, at run time through Jinja: the Variable `farflow_ecs` (JSON, written by the operator:
cluster, task_definition, container_name, network_configuration, region, awslogs_group,
awslogs_region, awslogs_stream_prefix; the awslogs fields may be null or absent, and then no
log is followed), the Variable `data_bucket` (plain string) and the Connection `aws_default`.

The DAG renders its templates as native objects: `network_configuration` has to reach
`RunTask` as a dict (with lists of subnets and security groups), not as its string form.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator
from airflow.sdk import dag

INPUT_URI = "s3://{{ var.value.data_bucket }}/input/orders.csv"
OUTPUT_URI = "s3://{{ var.value.data_bucket }}/output/ecs_dag/{{ run_id }}/summary.json"


def ecs(field: str) -> str:
    """A Jinja template for one field of the `farflow_ecs` Variable, read when the task runs."""
    return "{{ var.json.farflow_ecs." + field + " }}"


def ecs_optional(field: str) -> str:
    """Like `ecs`, but None (native) when the Variable lacks the field or holds null."""
    return "{{ var.json.farflow_ecs.get('" + field + "') }}"


@dag(
    dag_id="ecs_dag",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["farflow", "ecs", "fargate", "example"],
    default_args={"owner": "farflow", "retries": 1, "retry_delay": timedelta(minutes=1)},
    render_template_as_native_obj=True,
)
def ecs_dag() -> None:
    EcsRunTaskOperator(
        task_id="summarise_orders",
        aws_conn_id="aws_default",
        cluster=ecs("cluster"),
        task_definition=ecs("task_definition"),
        launch_type="FARGATE",
        network_configuration=ecs("network_configuration"),
        overrides={
            "containerOverrides": [
                {
                    "name": ecs("container_name"),
                    "environment": [
                        {"name": "INPUT_URI", "value": INPUT_URI},
                        {"name": "OUTPUT_URI", "value": OUTPUT_URI},
                    ],
                }
            ]
        },
        # Naming the container spares the operator its describe-and-sleep guess of it, and
        # gives the log stream: <prefix>/<container>/<task id>.
        container_name=ecs("container_name"),
        # The task definition's awslogs settings: with them the operator follows the task's log
        # stream while it runs; without a log group (CloudWatch logging off) it only waits.
        awslogs_group=ecs_optional("awslogs_group"),
        awslogs_region=ecs_optional("awslogs_region"),
        awslogs_stream_prefix=ecs_optional("awslogs_stream_prefix"),
        awslogs_fetch_interval=timedelta(seconds=5),
        wait_for_completion=True,
        deferrable=False,
        waiter_delay=5,
        waiter_max_attempts=720,  # 5 s x 720 = one hour
    )


ecs_dag()
