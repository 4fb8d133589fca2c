"""
### ecs_executor_dag: one task on the ECS executor

The task runs in its own ECS Fargate task (the Airflow image, through the task definition
FarFlow registered for the Ecs executor) instead of on a Celery worker: it counts the orders in
`s3://{data_bucket}/input/orders.csv` and returns the count (to XCom).

Needs `Ecs` among the AirflowCluster's `spec.airflow.executors`; FarFlow writes the executor's
module path into `[core] executor`, and a task's `executor=` matches it by that path.

Reads, at run time: the Variable `data_bucket` (plain string) and the Connection
`aws_default`.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import timedelta

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import Variable, dag, task

log = logging.getLogger(__name__)

ECS_EXECUTOR = "airflow.providers.amazon.aws.executors.ecs.ecs_executor.AwsEcsExecutor"
INPUT_KEY = "input/orders.csv"


@dag(
    dag_id="ecs_executor_dag",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["farflow", "ecs", "executor", "example"],
    default_args={"owner": "farflow", "retries": 1, "retry_delay": timedelta(minutes=1)},
)
def ecs_executor_dag() -> None:
    @task(executor=ECS_EXECUTOR)
    def count_orders() -> int:
        """The number of orders (data rows, header and blank lines excluded) in the input."""
        bucket = Variable.get("data_bucket")
        text = S3Hook(aws_conn_id="aws_default").read_key(key=INPUT_KEY, bucket_name=bucket)
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(row)]
        count = max(len(rows) - 1, 0)
        log.info("s3://%s/%s holds %d orders", bucket, INPUT_KEY, count)
        return count

    count_orders()


ecs_executor_dag()
