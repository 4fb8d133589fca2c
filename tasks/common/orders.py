"""The orders CSV both tasks read: header ``order_id,customer,amount``, one order per line,
amount a plain decimal number. Problems are reported with their line number."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from tasks.common.job import DataError
from tasks.common.s3 import S3Uri, read_object

HEADER = ("order_id", "customer", "amount")
DECIMAL_FORM = "a decimal number such as 12 or 12.50"
PLAIN_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


@dataclass(frozen=True)
class Order:
    order_id: str
    customer: str
    amount: Decimal


def parse_decimal(text: str) -> Decimal | None:
    """``text`` as a Decimal when it is a plain decimal number (no exponent, NaN or
    thousands separators), else None."""
    text = text.strip()
    return Decimal(text) if PLAIN_DECIMAL.fullmatch(text) else None


def decode(body: bytes) -> str:
    """The object's bytes as UTF-8 text (a leading byte order mark is dropped)."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        raise DataError(f"line {line}: not UTF-8 text (byte {error.start})") from error


def parse_orders(text: str) -> list[Order]:
    """Every order in ``text``; blank lines are skipped, anything else malformed is a
    DataError naming its line."""
    rows = numbered_rows(text)
    check_header(next(rows, (1, None)))
    return [parse_order(line, cells) for line, cells in rows]


def numbered_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank CSV rows of ``text``, stripped, with the line each ends on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield reader.line_num, [cell.strip() for cell in cells]
    except csv.Error as error:
        raise DataError(f"line {reader.line_num}: not valid CSV ({error})") from error


def check_header(numbered: tuple[int, list[str] | None]) -> None:
    line, cells = numbered
    expected = ",".join(HEADER)
    if cells is None:
        raise DataError(f"line {line}: expected the header {expected}, found no data")
    if tuple(cells) != HEADER:
        raise DataError(f"line {line}: expected the header {expected}, found {','.join(cells)}")


def parse_order(line: int, cells: list[str]) -> Order:
    if len(cells) != len(HEADER):
        raise DataError(f"line {line}: expected {len(HEADER)} fields, found {len(cells)}")
    order_id, customer, amount_text = cells
    for name, value in (("order_id", order_id), ("customer", customer)):
        if not value:
            raise DataError(f"line {line}: {name} is empty")
    amount = parse_decimal(amount_text)
    if amount is None:
        raise DataError(f"line {line}: amount {amount_text!r} is not {DECIMAL_FORM}")
    return Order(order_id, customer, amount)


def read_orders(uri: S3Uri, log: logging.Logger) -> list[Order]:
    """The orders in the CSV object at ``uri``."""
    log.info("reading %s", uri)
    body = read_object(uri)
    try:
        orders = parse_orders(decode(body))
    except DataError as error:
        raise DataError(f"malformed input {uri}: {error}") from error
    log.info("read %d rows from %s", len(orders), uri)
    return orders
