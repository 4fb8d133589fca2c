"""
### emr_dag: a Spark job on EMR Serverless

Runs the Spark script at the Variable's `entry_point` on the team's EMR Serverless
application and waits for the job run to finish. The script gets two arguments: the input
`s3://{data_bucket}/input/orders.csv` and an output prefix
`s3://{data_bucket}/output/emr_dag/{run_id}/`.

The application is long-lived, made once by the platform team (with auto-start and
auto-stop, so it costs nothing while idle): creating one per run would add minutes to every
run. The operator starts it when it is stopped.

Reads, at run time through Jinja: the Variables `emr_serverless` (JSON: application_id,
execution_role_arn, entry_point) and `data_bucket` (plain string), and the Connection
`aws_default`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.amazon.aws.operators.emr import EmrServerlessStartJobOperator
from airflow.sdk import dag

INPUT_URI = "s3://{{ var.value.data_bucket }}/input/orders.csv"
OUTPUT_PREFIX = "s3://{{ var.value.data_bucket }}/output/emr_dag/{{ run_id }}/"


def emr(field: str) -> str:
    """A Jinja template for one field of the `emr_serverless` Variable, read at run time."""
    return "{{ var.json.emr_serverless." + field + " }}"


@dag(
    dag_id="emr_dag",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["farflow", "emr-serverless", "spark", "example"],
    default_args={"owner": "farflow", "retries": 1, "retry_delay": timedelta(minutes=1)},
)
def emr_dag() -> None:
    EmrServerlessStartJobOperator(
        task_id="run_spark_job",
        aws_conn_id="aws_default",
        application_id=emr("application_id"),
        execution_role_arn=emr("execution_role_arn"),
        job_driver={
            "sparkSubmit": {
                "entryPoint": emr("entry_point"),
                "entryPointArguments": [INPUT_URI, OUTPUT_PREFIX],
            }
        },
        name="farflow-emr-dag-{{ run_id }}",
        wait_for_completion=True,  # until the job run succeeds or fails
        deferrable=False,
        waiter_delay=10,
        waiter_max_attempts=360,  # one hour
    )


emr_dag()
