"""Kubernetes pod task: read the orders CSV at INPUT_URI, keep the orders whose amount is
above MIN_AMOUNT, and write them, with their amount band, as CSV at OUTPUT_URI.

Run as ``python -m tasks.pod_task.app``; see tasks/README.md for the contract."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable
from decimal import Decimal

from tasks.common.job import ConfigError, run, task_logger
from tasks.common.orders import DECIMAL_FORM, HEADER, Order, parse_decimal, read_orders
from tasks.common.s3 import env_value, s3_uri_from_env, write_object

log = task_logger("pod_task")
OUTPUT_HEADER = (*HEADER, "amount_band")
# Upper bounds (exclusive) of the bands; anything from the last bound up is "large".
BANDS = ((Decimal(100), "small"), (Decimal(1000), "medium"))


def min_amount_from_env() -> Decimal:
    """MIN_AMOUNT, 0 when unset or blank."""
    text = env_value("MIN_AMOUNT")
    if text is None:
        return Decimal(0)
    minimum = parse_decimal(text)
    if minimum is None:
        raise ConfigError(f"MIN_AMOUNT must be {DECIMAL_FORM}, got {text!r}")
    return minimum


def amount_band(amount: Decimal) -> str:
    return next((band for bound, band in BANDS if amount < bound), "large")


def above(orders: Iterable[Order], minimum: Decimal) -> list[Order]:
    return [order for order in orders if order.amount > minimum]


def to_csv(orders: Iterable[Order]) -> bytes:
    """The orders with their band, amounts written as they were read."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_HEADER)
    for order in orders:
        writer.writerow((order.order_id, order.customer, order.amount, amount_band(order.amount)))
    return out.getvalue().encode()


def job() -> None:
    source, target = s3_uri_from_env("INPUT_URI"), s3_uri_from_env("OUTPUT_URI")
    minimum = min_amount_from_env()
    orders = read_orders(source, log)
    kept = above(orders, minimum)
    log.info("kept %d of %d rows with amount > %s", len(kept), len(orders), minimum)
    body = to_csv(kept)
    write_object(target, body, "text/csv")
    log.info("wrote %d rows to %s", len(kept), target)


def main() -> int:
    return run(job, log)


if __name__ == "__main__":
    sys.exit(main())
