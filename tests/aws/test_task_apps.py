"""The task containers' entry points as processes against moto's server: each reads its
input object and writes its result; missing input, malformed rows, bad configuration and an
unwritable output each exit with their own code and say what went wrong."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.aws.moto_env import unique
from tests.cases import ROOT
from tests.fixtures.aws import TASK_KEY
from tests.fixtures.aws_proxy import AwsProxy, Fault

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("moto_env")]
APPS = ["ecs_task", "pod_task"]
ORDERS = """order_id,customer,amount
1,acme,10.005
2,"Globex, Inc.",250
3,acme,0.10
4,initech,1200.00
"""


def s3() -> Any:
    return boto3.client("s3")


@pytest.fixture
def bucket() -> str:
    name = unique("farflow-example-data")
    s3().create_bucket(Bucket=name)
    return name


def put(bucket: str, key: str, body: str | bytes) -> str:
    s3().put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def run_app(
    app: str, moto_server: dict[str, str], tmp_path: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """The image's entry point, from this checkout, with only the given environment (HOME
    is empty: no ~/.aws files) and moto's endpoint and credentials of the task role."""
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **moto_server}
    environment |= {"AWS_ACCESS_KEY_ID": TASK_KEY, **env}
    return subprocess.run(
        [sys.executable, "-m", f"tasks.{app}.app"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def written(uri: str) -> tuple[str, str]:
    """Body and content type of the object at ``uri``."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    got = s3().get_object(Bucket=bucket, Key=key)
    return got["Body"].read().decode(), got["ContentType"]


def exists(bucket: str, key: str) -> bool:
    return bool(s3().list_objects_v2(Bucket=bucket, Prefix=key)["KeyCount"] > 0)


def test_ecs_task_writes_the_customer_summary(
    bucket: str, moto_server: dict[str, str], tmp_path: Path
) -> None:
    source = put(bucket, "in/orders.csv", ORDERS)
    target = f"s3://{bucket}/out/summary.json"
    done = run_app("ecs_task", moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=target)
    assert done.returncode == 0, done.stdout + done.stderr
    body, content_type = written(target)
    assert json.loads(body) == {
        "customers": {
            "Globex, Inc.": {"orders": 1, "total": "250.00"},
            "acme": {"orders": 2, "total": "10.11"},
            "initech": {"orders": 1, "total": "1200.00"},
        },
        "orders": 4,
        "total": "1460.11",
    }
    assert content_type == "application/json"
    assert done.stdout.splitlines() == [
        f"ecs_task INFO reading {source}",
        f"ecs_task INFO read 4 rows from {source}",
        "ecs_task INFO summarised 4 orders of 3 customers",
        f"ecs_task INFO wrote {len(body)} bytes to {target}",
        "ecs_task INFO done",
    ]
    assert done.stderr == ""


def test_pod_task_writes_the_orders_above_the_minimum_with_their_band(
    bucket: str, moto_server: dict[str, str], tmp_path: Path
) -> None:
    source = put(bucket, "in/orders.csv", ORDERS)
    target = f"s3://{bucket}/out/large.csv"
    done = run_app(
        "pod_task", moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=target, MIN_AMOUNT="10"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    body, content_type = written(target)
    assert list(csv.reader(io.StringIO(body))) == [
        ["order_id", "customer", "amount", "amount_band"],
        ["1", "acme", "10.005", "small"],
        ["2", "Globex, Inc.", "250", "medium"],
        ["4", "initech", "1200.00", "large"],
    ]
    assert content_type == "text/csv"
    assert done.stdout.splitlines() == [
        f"pod_task INFO reading {source}",
        f"pod_task INFO read 4 rows from {source}",
        "pod_task INFO kept 3 of 4 rows with amount > 10",
        f"pod_task INFO wrote 3 rows to {target}",
        "pod_task INFO done",
    ]


def test_pod_task_keeps_every_positive_amount_by_default(
    bucket: str, moto_server: dict[str, str], tmp_path: Path
) -> None:
    source = put(bucket, "in.csv", "order_id,customer,amount\n1,a,0\n2,a,0.01\n3,b,-4\n")
    target = f"s3://{bucket}/out.csv"
    done = run_app("pod_task", moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=target)
    assert done.returncode == 0, done.stdout + done.stderr
    assert written(target)[0] == "order_id,customer,amount,amount_band\n2,a,0.01,small\n"


@pytest.mark.parametrize("app", APPS)
def test_a_missing_object_exits_3_naming_the_uri(
    app: str, bucket: str, moto_server: dict[str, str], tmp_path: Path
) -> None:
    source = f"s3://{bucket}/no/such.csv"
    done = run_app(app, moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=f"s3://{bucket}/o")
    assert done.returncode == 3
    assert f"ERROR exit 3: cannot read {source}: NoSuchKey (" in done.stdout
    assert not exists(bucket, "o")


@pytest.mark.parametrize("app", APPS)
def test_a_missing_bucket_exits_3(app: str, moto_server: dict[str, str], tmp_path: Path) -> None:
    source = f"s3://{unique('farflow-example-data-none')}/orders.csv"
    done = run_app(app, moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=source + ".out")
    assert done.returncode == 3
    assert f"cannot read {source}: NoSuchBucket (" in done.stdout


@pytest.mark.parametrize("app", APPS)
def test_access_denied_on_the_input_exits_3(
    app: str, bucket: str, moto_server: dict[str, str], tmp_path: Path, aws: AwsProxy
) -> None:
    source = put(bucket, "in.csv", ORDERS)
    aws.faults["s3:GetObject"] = Fault("denied")
    done = run_app(app, moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=f"s3://{bucket}/o")
    assert done.returncode == 3
    assert f"cannot read {source}: AccessDenied (" in done.stdout


@pytest.mark.parametrize("app", APPS)
def test_a_malformed_row_exits_4_naming_its_line(
    app: str, bucket: str, moto_server: dict[str, str], tmp_path: Path
) -> None:
    source = put(bucket, "in.csv", "order_id,customer,amount\n1,a,5\n\n2,b,five\n")
    done = run_app(app, moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=f"s3://{bucket}/o")
    assert done.returncode == 4
    assert done.stdout.splitlines()[-1] == (
        f"{app} ERROR exit 4: malformed input {source}: line 4: amount 'five' is not a decimal"
        " number such as 12 or 12.50"
    )
    assert not exists(bucket, "o")


@pytest.mark.parametrize("app", APPS)
def test_input_that_is_not_text_exits_4(
    app: str, bucket: str, moto_server: dict[str, str], tmp_path: Path
) -> None:
    source = put(bucket, "in.csv", b"order_id,customer,amount\n1,\xff\xfe,5\n")
    done = run_app(app, moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=f"s3://{bucket}/o")
    assert done.returncode == 4
    assert f"malformed input {source}: line 2: not UTF-8 text" in done.stdout


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("output", ["", "out.json", "s3://bucket-only", "s3://Bad_Bucket/o"])
def test_a_bad_output_uri_exits_2_before_reading(
    app: str, output: str, bucket: str, moto_server: dict[str, str], tmp_path: Path
) -> None:
    source = f"s3://{bucket}/never-read.csv"
    done = run_app(app, moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=output)
    assert done.returncode == 2
    [line] = done.stdout.splitlines()
    assert line.startswith(f"{app} ERROR exit 2: OUTPUT_URI ")
    assert "s3://bucket/key" in line


def test_a_bad_min_amount_exits_2(bucket: str, moto_server: dict[str, str], tmp_path: Path) -> None:
    uri = f"s3://{bucket}/x.csv"
    done = run_app(
        "pod_task", moto_server, tmp_path, INPUT_URI=uri, OUTPUT_URI=uri, MIN_AMOUNT="lots"
    )
    assert done.returncode == 2
    assert "MIN_AMOUNT must be a decimal number such as 12 or 12.50, got 'lots'" in done.stdout


@pytest.mark.parametrize("app", APPS)
def test_an_output_bucket_that_is_missing_exits_5(
    app: str, bucket: str, moto_server: dict[str, str], tmp_path: Path
) -> None:
    source = put(bucket, "in.csv", ORDERS)
    target = f"s3://{unique('farflow-example-data-none')}/out"
    done = run_app(app, moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=target)
    assert done.returncode == 5
    assert f"cannot write {target}: NoSuchBucket (" in done.stdout


@pytest.mark.parametrize("app", APPS)
def test_access_denied_on_the_output_exits_5(
    app: str, bucket: str, moto_server: dict[str, str], tmp_path: Path, aws: AwsProxy
) -> None:
    source = put(bucket, "in.csv", ORDERS)
    aws.faults["s3:PutObject"] = Fault("denied")
    done = run_app(app, moto_server, tmp_path, INPUT_URI=source, OUTPUT_URI=f"s3://{bucket}/o")
    assert done.returncode == 5
    assert f"cannot write s3://{bucket}/o: AccessDenied (" in done.stdout


@pytest.mark.parametrize("app", APPS)
def test_credentials_never_reach_the_log(
    app: str, bucket: str, moto_server: dict[str, str], tmp_path: Path
) -> None:
    secret = {"AWS_ACCESS_KEY_ID": "AKIAFARFLOWSECRET01", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
    source = f"s3://{bucket}/missing.csv"
    done = run_app(
        app, {**moto_server, **secret}, tmp_path, INPUT_URI=source, OUTPUT_URI=source + ".o"
    )
    assert done.returncode == 3
    for value in secret.values():
        assert value not in done.stdout + done.stderr
