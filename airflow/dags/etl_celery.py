"""
### etl_celery: extract, transform and load on the Celery workers

Reads the orders CSV at `s3://{data_bucket}/input/orders.csv` (header
`order_id,customer,amount`), totals the amounts per customer with exact decimal arithmetic and
writes the summary as JSON to `s3://{data_bucket}/output/etl_celery/{run_id}/summary.json`.
The summary has the shape the `tasks/ecs_task` container writes:
`{"customers": {name: {"orders": n, "total": "12.50"}}, "orders": n, "total": "..."}`.

Reads: the Variable `data_bucket` (plain string) and the Connection `aws_default`, both at run
time. The tasks pass only small JSON data through XCom; `load` returns the summary's key.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import Variable, dag, get_current_context, task

log = logging.getLogger(__name__)

AWS_CONN_ID = "aws_default"
INPUT_KEY = "input/orders.csv"
HEADER = ["order_id", "customer", "amount"]
CENTS = Decimal("0.01")


def money(amount: Decimal) -> str:
    """An amount as a string with exactly two decimal places: JSON-safe and never a float."""
    return str(amount.quantize(CENTS, rounding=ROUND_HALF_UP))


def amount_of(row: dict[str, str]) -> Decimal:
    """The order's amount; a malformed one fails the task, naming the order."""
    try:
        amount = Decimal(row["amount"])
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise ValueError(f"order {row['order_id']!r}: amount {row['amount']!r} is not a number")
    return amount


@dag(
    dag_id="etl_celery",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["farflow", "celery", "s3", "example"],
    default_args={"owner": "farflow", "retries": 2, "retry_delay": timedelta(seconds=30)},
)
def etl_celery() -> None:
    @task
    def extract() -> list[dict[str, str]]:
        """The orders of the input CSV, as strings (amounts stay exact until transform)."""
        bucket = Variable.get("data_bucket")
        text = S3Hook(aws_conn_id=AWS_CONN_ID).read_key(key=INPUT_KEY, bucket_name=bucket)
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
        if reader.fieldnames != HEADER:
            raise ValueError(
                f"s3://{bucket}/{INPUT_KEY}: expected the header {','.join(HEADER)}, "
                f"found {','.join(reader.fieldnames or [])}"
            )
        rows = []
        for row in reader:
            if None in row:  # DictReader's key for cells beyond the header
                raise ValueError(f"line {reader.line_num}: more than {len(HEADER)} fields")
            cells = {name: (row[name] or "").strip() for name in HEADER}
            if any(cells.values()):  # blank lines are skipped
                rows.append(cells)
        log.info("read %d orders from s3://%s/%s", len(rows), bucket, INPUT_KEY)
        return rows

    @task
    def transform(rows: list[dict[str, str]]) -> dict[str, Any]:
        """Order count and total per customer and overall, amounts as two-decimal strings."""
        per_customer: dict[str, list[Decimal]] = {}
        for row in rows:
            per_customer.setdefault(row["customer"], []).append(amount_of(row))
        customers = {
            name: {"orders": len(amounts), "total": money(sum(amounts, Decimal(0)))}
            for name, amounts in sorted(per_customer.items())
        }
        every = [amount for amounts in per_customer.values() for amount in amounts]
        return {
            "customers": customers,
            "orders": len(every),
            "total": money(sum(every, Decimal(0))),
        }

    @task
    def load(summary: dict[str, Any]) -> str:
        """Write the summary as JSON under this run's prefix; return its key."""
        bucket = Variable.get("data_bucket")
        run_id = get_current_context()["run_id"]
        key = f"output/etl_celery/{run_id}/summary.json"
        body = json.dumps(summary, indent=2, sort_keys=True) + "\n"
        S3Hook(aws_conn_id=AWS_CONN_ID).load_string(body, key=key, bucket_name=bucket, replace=True)
        log.info("wrote the summary of %d orders to s3://%s/%s", summary["orders"], bucket, key)
        return key

    load(transform(extract()))


etl_celery()
