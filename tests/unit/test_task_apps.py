"""The task containers' pure parts: S3 URIs, the orders CSV with its line-numbered problems,
the ECS summary, the pod filter and bands; and their Dockerfiles, down to running the
entry point from the files the Dockerfile copies."""

from __future__ import annotations

import ast
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from tasks.common.job import ConfigError, DataError, ExitCode, InputError, TaskError, run
from tasks.common.orders import Order, decode, parse_orders
from tasks.common.s3 import S3Uri, parse_s3_uri, s3_uri_from_env
from tasks.ecs_task.app import summarise, to_json
from tasks.pod_task.app import above, amount_band, min_amount_from_env, to_csv
from tests.cases import ROOT

pytestmark = pytest.mark.unit
TASKS = ROOT / "tasks"
APPS = ["ecs_task", "pod_task"]
GOOD = """order_id,customer,amount
1,acme,10.005
2,"Globex, Inc.",250

 3 , acme , 0.10\t
4,initech,1200.00
"""


def orders(*rows: tuple[str, str, str]) -> list[Order]:
    return [Order(order_id, customer, Decimal(amount)) for order_id, customer, amount in rows]


# --- S3 URIs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s3://my-bucket/in.csv", S3Uri("my-bucket", "in.csv")),
        (
            "s3://data.example-1/runs/2026/orders.csv",
            S3Uri("data.example-1", "runs/2026/orders.csv"),
        ),
    ],
)
def test_s3_uris_parse_and_print_back(value: str, expected: S3Uri) -> None:
    assert parse_s3_uri("INPUT_URI", value) == expected
    assert str(expected) == value


@pytest.mark.parametrize(
    "value",
    [
        "bucket/key",
        "https://bucket.s3.amazonaws.com/key",
        "s3://bucket",
        "s3://bucket/",
        "s3:///key",
        "s3://Upper_Case/key",
        "s3://ab/key",
        "S3://bucket/key",
    ],
)
def test_malformed_uris_name_the_variable_and_the_form(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_s3_uri("OUTPUT_URI", value)
    assert refused.value.exit_code == ExitCode.BAD_CONFIG
    assert ExitCode.BAD_CONFIG.value == 2
    message = str(refused.value)
    assert message.startswith("OUTPUT_URI must have the form s3://bucket/key")
    assert repr(value) in message


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_unset_uri_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("INPUT_URI", raising=False)
    else:
        monkeypatch.setenv("INPUT_URI", value)
    with pytest.raises(ConfigError, match=r"^INPUT_URI is not set: expected s3://bucket/key$"):
        s3_uri_from_env("INPUT_URI")


# --- the orders CSV ------------------------------------------------------------------------


def test_orders_are_read_stripped_with_quotes_and_blank_lines() -> None:
    assert parse_orders(GOOD) == orders(
        ("1", "acme", "10.005"),
        ("2", "Globex, Inc.", "250"),
        ("3", "acme", "0.10"),
        ("4", "initech", "1200.00"),
    )


def test_a_header_alone_is_no_orders_and_crlf_or_a_bom_is_fine() -> None:
    assert parse_orders("order_id,customer,amount\n") == []
    text = decode("\ufefforder_id,customer,amount\r\n1,a,-5\r\n".encode())
    assert parse_orders(text) == orders(("1", "a", "-5"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "line 1: expected the header order_id,customer,amount, found no data"),
        ("\n\n", "line 1: expected the header order_id,customer,amount, found no data"),
        (
            "id,customer,amount\n1,a,2\n",
            "line 1: expected the header order_id,customer,amount, found id,customer,amount",
        ),
        ("order_id,customer,amount\n1,a,2\n2,b\n", "line 3: expected 3 fields, found 2"),
        ("order_id,customer,amount\n\n\n1,a,1,000\n", "line 4: expected 3 fields, found 4"),
        ("order_id,customer,amount\n1,,2\n", "line 2: customer is empty"),
        ("order_id,customer,amount\n ,a,2\n", "line 2: order_id is empty"),
        (
            "order_id,customer,amount\n1,a,2\n2,b,abc\n",
            "line 3: amount 'abc' is not a decimal number such as 12 or 12.50",
        ),
        ('order_id,customer,amount\n1,a,"1,000"\n', "line 2: amount '1,000' is not a decimal"),
        ("order_id,customer,amount\n1,a,1e3\n", "line 2: amount '1e3' is not a decimal"),
        ("order_id,customer,amount\n1,a,NaN\n", "line 2: amount 'NaN' is not a decimal"),
        ("order_id,customer,amount\n1,a,\n", "line 2: amount '' is not a decimal"),
        ('order_id,customer,amount\n1,a,2\n2,"b"x,3\n', "line 3: not valid CSV"),
    ],
)
def test_malformed_rows_name_their_line_and_problem(text: str, problem: str) -> None:
    with pytest.raises(DataError) as refused:
        parse_orders(text)
    assert refused.value.exit_code == ExitCode.MALFORMED_INPUT
    assert ExitCode.MALFORMED_INPUT.value == 4
    assert str(refused.value).startswith(problem)


def test_bytes_that_are_not_utf8_name_their_line() -> None:
    with pytest.raises(DataError, match=r"^line 3: not UTF-8 text"):
        decode(b"order_id,customer,amount\n1,a,2\n2,\xff,3\n")


# --- ecs_task: the per-customer summary ----------------------------------------------------


def test_the_summary_totals_each_customer_in_decimal_with_two_places() -> None:
    summary = summarise(parse_orders(GOOD))
    assert summary == {
        "customers": {
            "Globex, Inc.": {"orders": 1, "total": "250.00"},
            "acme": {"orders": 2, "total": "10.11"},  # 10.105 rounds half up
            "initech": {"orders": 1, "total": "1200.00"},
        },
        "orders": 4,
        "total": "1460.11",
    }
    assert json.loads(to_json(summary)) == summary


def test_decimal_sums_do_not_drift_like_floats() -> None:
    summary = summarise(orders(*[(str(n), "a", "0.1") for n in range(3)]))
    assert summary["customers"]["a"] == {"orders": 3, "total": "0.30"}


def test_no_orders_summarise_to_zero() -> None:
    assert summarise([]) == {"customers": {}, "orders": 0, "total": "0.00"}


# --- pod_task: the filter and the bands ----------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "band"),
    [
        ("-5", "small"),
        ("0", "small"),
        ("99.99", "small"),
        ("100", "medium"),
        ("999.99", "medium"),
        ("1000", "large"),
        ("250000", "large"),
    ],
)
def test_amount_bands(amount: str, band: str) -> None:
    assert amount_band(Decimal(amount)) == band


def test_only_amounts_above_the_minimum_are_kept() -> None:
    given = orders(("1", "a", "-1"), ("2", "a", "0"), ("3", "b", "0.01"), ("4", "b", "50"))
    assert [order.order_id for order in above(given, Decimal(0))] == ["3", "4"]
    assert [order.order_id for order in above(given, Decimal(50))] == []


def test_the_csv_keeps_amounts_as_read_and_adds_the_band() -> None:
    given = orders(("1", "Globex, Inc.", "250.50"), ("2", "acme", "1000"))
    assert to_csv(given).decode() == (
        'order_id,customer,amount,amount_band\n1,"Globex, Inc.",250.50,medium\n2,acme,1000,large\n'
    )
    assert to_csv([]) == b"order_id,customer,amount,amount_band\n"


@pytest.mark.parametrize(
    ("value", "minimum"), [(None, "0"), ("", "0"), ("10.5", "10.5"), ("-3", "-3")]
)
def test_min_amount_defaults_to_zero(
    monkeypatch: pytest.MonkeyPatch, value: str | None, minimum: str
) -> None:
    if value is None:
        monkeypatch.delenv("MIN_AMOUNT", raising=False)
    else:
        monkeypatch.setenv("MIN_AMOUNT", value)
    assert min_amount_from_env() == Decimal(minimum)


@pytest.mark.parametrize("value", ["ten", "1e3", "1,5", "NaN"])
def test_a_bad_min_amount_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MIN_AMOUNT", value)
    with pytest.raises(ConfigError) as refused:
        min_amount_from_env()
    assert str(refused.value) == (
        f"MIN_AMOUNT must be a decimal number such as 12 or 12.50, got {value!r}"
    )


# --- the runner: a failure is one log line and its exit code --------------------------------


def captured_logger() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    log = logging.getLogger("test_task_apps")
    log.handlers = [logging.StreamHandler(out)]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log, out


@pytest.mark.parametrize(
    ("error", "code"), [(ConfigError("x"), 2), (InputError("x"), 3), (DataError("x"), 4)]
)
def test_failures_exit_with_their_code_and_say_why(error: TaskError, code: int) -> None:
    def fail() -> None:
        raise error

    log, out = captured_logger()
    assert run(fail, log) == code
    assert out.getvalue() == f"exit {code}: x\n"


def test_success_exits_zero() -> None:
    log, out = captured_logger()
    assert run(lambda: None, log) == 0
    assert out.getvalue() == "done\n"


# --- the Dockerfiles -----------------------------------------------------------------------


def instructions(app: str, name: str) -> list[str]:
    """Arguments of every ``name`` instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (TASKS / app / "Dockerfile").read_text())
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [line.split(maxsplit=1)[1] for line in lines if line.startswith(f"{name} ")]


def env_of(app: str) -> dict[str, str]:
    pairs = [pair.split("=", 1) for line in instructions(app, "ENV") for pair in line.split()]
    return dict(pairs)


def pins(app: str) -> dict[str, str]:
    return dict(re.findall(r"([\w.-]+)==([\w.]+)", " ".join(instructions(app, "RUN"))))


@pytest.mark.parametrize("app", APPS)
def test_runs_slim_python_as_a_numeric_non_root_user(app: str) -> None:
    assert instructions(app, "FROM") == ["python:3.11-slim"]
    [user] = instructions(app, "USER")
    uid, gid = user.split(":")
    assert uid.isdigit(), user
    assert gid.isdigit(), user
    assert int(uid) != 0, user
    assert int(gid) != 0, user


@pytest.mark.parametrize("app", APPS)
def test_boto3_is_the_version_the_project_pins(app: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [boto3] = [d for d in project["dependencies"] if d.startswith("boto3==")]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    [botocore] = [p["version"] for p in lock if p["name"] == "botocore"]
    assert pins(app) == {"boto3": boto3.split("==")[1], "botocore": botocore}


@pytest.mark.parametrize("app", APPS)
def test_logs_unbuffered_and_imports_from_the_workdir(app: str) -> None:
    [workdir] = instructions(app, "WORKDIR")
    env = env_of(app)
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONPATH"] == workdir


@pytest.mark.parametrize("app", APPS)
def test_the_entrypoint_is_the_apps_module(app: str) -> None:
    [entrypoint] = instructions(app, "ENTRYPOINT")
    assert json.loads(entrypoint) == ["python", "-m", f"tasks.{app}.app"]
    assert (TASKS / app / "app.py").is_file()


def image_files(app: str, root: Path) -> Path:
    """The files the Dockerfile COPYs from the build context (tasks/), laid out under
    ``root`` as in the image; returns where WORKDIR is."""
    [workdir] = instructions(app, "WORKDIR")
    target = root / workdir.lstrip("/")
    for line in instructions(app, "COPY"):
        source, destination = line.split()
        copied, into = TASKS / source, target / destination
        into.parent.mkdir(parents=True, exist_ok=True)
        if copied.is_dir():
            shutil.copytree(
                copied, into, ignore=shutil.ignore_patterns("__pycache__", "Dockerfile")
            )
        else:
            shutil.copy(copied, into)
    return target


@pytest.mark.parametrize("app", APPS)
def test_the_image_files_run_the_entrypoint(app: str, tmp_path: Path) -> None:
    """Without INPUT_URI the entry point must import and exit 2; run from the copied files
    only (PYTHONPATH as the image sets it), not from this checkout."""
    workdir = image_files(app, tmp_path / "image")
    [entrypoint] = instructions(app, "ENTRYPOINT")
    _, *arguments = json.loads(entrypoint)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(workdir), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, *arguments],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == f"{app} ERROR exit 2: INPUT_URI is not set: expected s3://bucket/key\n"


@pytest.mark.parametrize("app", APPS)
def test_the_image_needs_nothing_but_boto3(app: str, tmp_path: Path) -> None:
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "tasks"}
    for path in image_files(app, tmp_path).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert {name.split(".")[0] for name in names} <= allowed, path
