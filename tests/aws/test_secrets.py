"""Generated secrets in Secrets Manager (moto): created once and tagged, never overwritten,
deleted only when ours; failures name the action and never the value."""

from __future__ import annotations

import json

import boto3
import pytest

from farflow.airflow_objects import declared, secret_reader
from farflow.api import parse, resolve
from farflow.aws.secrets import (
    delete_secret,
    ensure_secret,
    generate_password,
    mirror_secret,
    read_secret,
)
from farflow.aws.session import TAG_KEY, AwsError
from tests.aws.moto_env import OWNER, unique
from tests.cases import MINIMAL, load, merged
from tests.fixtures.aws import REGION
from tests.fixtures.aws_proxy import AwsProxy, Fault

pytestmark = pytest.mark.aws


def secret_id() -> str:
    return f"airflow/{unique('ns')}/cluster/admin"


def stored(secret: str) -> str:
    return str(boto3.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"])


def test_created_once_tagged_and_kept(aws: AwsProxy) -> None:
    secret, queue = secret_id(), ["first", "second", "third"]
    states = [ensure_secret(REGION, secret, lambda: queue.pop(0), OWNER) for _ in range(3)]
    assert {state.value for state in states} == {"first"}
    assert queue == ["second", "third"]  # the factory ran once
    assert states[0].secret_id == secret
    assert states[0].arn.startswith(f"arn:aws:secretsmanager:{REGION}:")
    listed = boto3.client("secretsmanager").list_secrets(
        Filters=[{"Key": "name", "Values": [secret]}]
    )["SecretList"]
    assert [found["Name"] for found in listed] == [secret]
    assert listed[0]["Tags"] == [{"Key": TAG_KEY, "Value": OWNER}]
    assert stored(secret) == "first"


def test_an_existing_value_is_never_overwritten(aws: AwsProxy) -> None:
    secret = secret_id()
    boto3.client("secretsmanager").create_secret(Name=secret, SecretString="chosen-by-user")
    state = ensure_secret(REGION, secret, lambda: "generated", OWNER)
    assert state.value == "chosen-by-user"
    assert stored(secret) == "chosen-by-user"


def test_the_value_stays_out_of_repr(aws: AwsProxy) -> None:
    state = ensure_secret(REGION, secret_id(), lambda: "hush-hush-value", OWNER)
    assert "hush-hush-value" not in repr(state)
    assert "hush-hush-value" not in str(state)


def test_read_returns_the_value_or_none(aws: AwsProxy) -> None:
    secret = secret_id()
    assert read_secret(REGION, secret) is None
    ensure_secret(REGION, secret, lambda: "v4lue", OWNER)
    found = read_secret(REGION, secret)
    assert found is not None
    assert found.value == "v4lue"


def test_delete_removes_ours_at_once(aws: AwsProxy) -> None:
    secret = secret_id()
    ensure_secret(REGION, secret, generate_password, OWNER)
    assert delete_secret(REGION, secret, OWNER) is True
    assert read_secret(REGION, secret) is None
    assert delete_secret(REGION, secret, OWNER) is True  # missing counts as done
    ensure_secret(REGION, secret, lambda: "again", OWNER)  # no recovery window holds the name
    assert stored(secret) == "again"


def test_delete_leaves_a_secret_that_is_not_ours(aws: AwsProxy) -> None:
    secret = secret_id()
    boto3.client("secretsmanager").create_secret(Name=secret, SecretString="theirs")
    ensure_secret(REGION, secret, lambda: "ours", OWNER)
    assert delete_secret(REGION, secret, OWNER) is True
    assert stored(secret) == "theirs"


def test_denied_creation_names_the_action_not_the_value(aws: AwsProxy) -> None:
    secret = secret_id()
    aws.faults["secretsmanager:CreateSecret"] = Fault("denied")
    with pytest.raises(AwsError) as denied:
        ensure_secret(REGION, secret, lambda: "never-shown-value", OWNER)
    assert denied.value.reason == "AccessDeniedException"
    assert str(denied.value).startswith(f"secretsmanager:CreateSecret {secret} failed:")
    assert "never-shown-value" not in str(denied.value)
    aws.faults.clear()
    assert read_secret(REGION, secret) is None


def test_denied_read_is_an_error_not_a_missing_secret(aws: AwsProxy) -> None:
    secret, before = secret_id(), len(aws.actions)
    aws.faults["secretsmanager:GetSecretValue"] = Fault("denied")
    with pytest.raises(AwsError, match=f"^secretsmanager:GetSecretValue {secret} failed: Access"):
        ensure_secret(REGION, secret, generate_password, OWNER)
    assert "secretsmanager:CreateSecret" not in aws.actions[before:]


def test_generated_passwords_are_long_random_and_plain() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == 32
        assert not set(password) & set("/@\" %:?#&+'\\")


def test_a_mirror_is_written_only_when_its_values_change(aws: AwsProxy) -> None:
    """The Ecs executor's secrets: one JSON object, updated when the Kubernetes side
    changed, with no write when it did not."""
    secret = secret_id()
    arn = mirror_secret(REGION, secret, {"B": "second", "A": "first"}, OWNER)
    assert json.loads(stored(secret)) == {"A": "first", "B": "second"}
    described = boto3.client("secretsmanager").describe_secret(SecretId=secret)
    assert (described["ARN"], described["Tags"]) == (arn, [{"Key": TAG_KEY, "Value": OWNER}])
    called = len(aws.actions)
    assert mirror_secret(REGION, secret, {"A": "first", "B": "second"}, OWNER) == arn
    assert "secretsmanager:PutSecretValue" not in aws.actions[called:]
    assert mirror_secret(REGION, secret, {"A": "rotated"}, OWNER) == arn
    assert json.loads(stored(secret)) == {"A": "rotated"}


def test_a_mirror_never_writes_into_a_secret_not_ours(aws: AwsProxy) -> None:
    secret = secret_id()
    boto3.client("secretsmanager").create_secret(Name=secret, SecretString="theirs")
    with pytest.raises(AwsError, match=f"secret {secret} exists but is not tagged") as raised:
        mirror_secret(REGION, secret, {"A": "value-that-must-not-leak"}, OWNER)
    assert raised.value.reason == "SecretNotOwned"
    assert "value-that-must-not-leak" not in str(raised.value)
    assert stored(secret) == "theirs"


def test_a_declared_connection_is_read_from_its_namespaces_secrets_only(aws: AwsProxy) -> None:
    namespace = unique("ns")
    stored = json.dumps({"conn_type": "postgres", "host": "warehouse.internal"})
    manager = boto3.client("secretsmanager")
    ours = manager.create_secret(Name=f"airflow/{namespace}/warehouse", SecretString=stored)
    theirs = manager.create_secret(Name=f"airflow/{unique('ns')}/warehouse", SecretString=stored)
    gone = ours["ARN"].replace("/warehouse", "/gone")
    connections = [{"name": name, "secretsManagerArn": arn}
                   for name, arn in (("ours", ours["ARN"]), ("theirs", theirs["ARN"]),
                                     ("gone", gone))]  # fmt: skip
    spec = {"airflow": {"connections": connections}}
    manifest = merged(load(MINIMAL), {"metadata": {"namespace": namespace}, "spec": spec})
    cluster = resolve(parse(manifest))

    wanted = declared(cluster.spec.airflow, secret_reader(cluster, kube=None))

    assert wanted.bodies["connections"]["ours"]["host"] == "warehouse.internal"
    assert wanted.unreadable == {
        "theirs": f"secretsManagerArn must name a secret airflow/{namespace}/...",
        "gone": f"Secrets Manager has no secret {gone}",
    }
