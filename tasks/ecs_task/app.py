"""ECS Fargate task: read the orders CSV at INPUT_URI and write, at OUTPUT_URI, a JSON
summary of the orders and their total per customer.

Run as ``python -m tasks.ecs_task.app``; see tasks/README.md for the contract."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tasks.common.job import run, task_logger
from tasks.common.orders import Order, read_orders
from tasks.common.s3 import s3_uri_from_env, write_object

log = task_logger("ecs_task")
CENTS = Decimal("0.01")


def money(amount: Decimal) -> str:
    """A total as a string with exactly two decimal places (half-up), never a float."""
    return str(amount.quantize(CENTS, rounding=ROUND_HALF_UP))


def tally(orders: Iterable[Order]) -> dict[str, Any]:
    """Order count and money total of ``orders``."""
    amounts = [order.amount for order in orders]
    return {"orders": len(amounts), "total": money(sum(amounts, Decimal(0)))}


def summarise(orders: list[Order]) -> dict[str, Any]:
    """The per-customer tallies and the overall one."""
    by_customer: dict[str, list[Order]] = {}
    for order in orders:
        by_customer.setdefault(order.customer, []).append(order)
    per_customer = {name: tally(group) for name, group in sorted(by_customer.items())}
    return {"customers": per_customer, **tally(orders)}


def to_json(summary: dict[str, Any]) -> bytes:
    return (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode()


def job() -> None:
    source, target = s3_uri_from_env("INPUT_URI"), s3_uri_from_env("OUTPUT_URI")
    summary = summarise(read_orders(source, log))
    log.info("summarised %d orders of %d customers", summary["orders"], len(summary["customers"]))
    body = to_json(summary)
    write_object(target, body, "application/json")
    log.info("wrote %d bytes to %s", len(body), target)


def main() -> int:
    return run(job, log)


if __name__ == "__main__":
    sys.exit(main())
