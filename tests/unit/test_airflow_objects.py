"""Declared pools, variables and connections: the request bodies read from the spec and the
secrets, and the pure decision of what to create, update and delete (the e2e tier runs them
against Airflow's API server: tests/e2e/test_airflow_objects.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farflow.airflow_objects import Body, changes, declared, drifted
from farflow.api.spec import AirflowSpec, ConnectionSpec

pytestmark = pytest.mark.unit

PASSWORD = "s3cr3t-never-shown"
WAREHOUSE = {"conn_type": "postgres", "host": "warehouse.internal", "login": "loader",
             "password": PASSWORD, "port": 5439, "extra": {"sslmode": "require"}}  # fmt: skip


def spec(**fields: Any) -> AirflowSpec:
    return AirflowSpec.model_validate(fields)


def reading(secrets: dict[str, str]) -> Any:
    def read(connection: ConnectionSpec) -> str:
        assert connection.secret_key_ref is not None
        return secrets[connection.secret_key_ref.name]

    return read


def test_declared_bodies_are_what_airflows_api_takes() -> None:
    airflow = spec(
        pools=[{"name": "warehouse", "slots": 2}],
        variables=[{"name": "greeting", "value": "hello", "description": "said first"}],
        connections=[{"name": "warehouse_db", "secretKeyRef": {"name": "wh", "key": "conn"}}],
    )
    wanted = declared(airflow, reading({"wh": json.dumps(WAREHOUSE)}))
    assert wanted.unreadable == {}
    assert wanted.bodies["pools"] == {
        "warehouse": {"name": "warehouse", "slots": 2, "description": "",
                      "include_deferred": False}
    }  # fmt: skip
    assert wanted.bodies["variables"]["greeting"]["value"] == "hello"
    connection = wanted.bodies["connections"]["warehouse_db"]
    assert connection["connection_id"] == "warehouse_db"
    assert json.loads(connection["extra"]) == {"sslmode": "require"}
    assert connection["password"] == PASSWORD


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (f"postgres://loader:{PASSWORD}@warehouse.internal", "not a connection in Airflow's JSON"),
        (json.dumps({**WAREHOUSE, "passwd": PASSWORD}), "fields Airflow connections lack: passwd"),
        (json.dumps({**WAREHOUSE, "port": "5439"}), "port Input should be a valid integer"),
    ],
)  # fmt: skip
def test_a_connection_secret_airflow_cannot_take_is_named_without_its_password(
    secret: str, says: str
) -> None:
    airflow = spec(
        connections=[{"name": "warehouse_db", "secretKeyRef": {"name": "wh", "key": "conn"}}]
    )
    wanted = declared(airflow, reading({"wh": secret}))
    assert wanted.bodies["connections"] == {}
    [why] = wanted.unreadable.values()
    assert "key conn of Secret wh" in why
    assert says in why
    assert PASSWORD not in why


def test_changes_create_update_and_delete_only_what_farflow_made() -> None:
    wanted = {"a": {"slots": 2}, "b": {"slots": 3}, "c": {"slots": 4}}
    live = {"b": {"slots": 3}, "c": {"slots": 1}, "old": {"slots": 1}, "theirs": {"slots": 1}}
    todo = changes(wanted, live, created={"b", "old", "gone"}, rewrite=False)
    assert (todo.create, todo.update, todo.delete) == (("a",), ("c",), ("old",))
    rewritten = changes(wanted, live, created=set(), rewrite=True)
    assert rewritten.update == ("b", "c")  # the spec or a secret changed: write all again
    assert rewritten.delete == ()  # "theirs" and "old" were never FarFlow's here


def test_a_redacted_field_is_no_drift_and_an_empty_one_equals_none() -> None:
    wanted = {"conn_type": "postgres", "password": PASSWORD, "extra": None, "description": ""}
    live = {"conn_type": "postgres", "password": "***", "extra": None, "description": None}
    assert not drifted(wanted, live)
    assert drifted({**wanted, "conn_type": "mysql"}, live)
    spaced = {"extra": '{"sslmode":  "require"}'}
    assert not drifted({"extra": json.dumps({"sslmode": "require"})}, spaced)


@given(
    wanted=st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 3)),
    live=st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 3)),
    created=st.sets(st.sampled_from("abcdef")),
    rewrite=st.booleans(),
)
def test_after_the_changes_airflow_holds_the_spec_and_what_others_made(
    wanted: dict[str, int], live: dict[str, int], created: set[str], rewrite: bool
) -> None:
    want: dict[str, Body] = {name: {"slots": slots} for name, slots in wanted.items()}
    have: dict[str, Body] = {name: {"slots": slots} for name, slots in live.items()}
    todo = changes(want, have, created, rewrite)
    after = dict(have)
    for name in (*todo.create, *todo.update):
        after[name] = want[name]
    for name in todo.delete:
        del after[name]
    assert {name: after[name] for name in want} == want
    assert set(after) - set(want) == set(have) - set(want) - created  # only FarFlow's go
    assert not set(todo.update) & set(todo.create)
    if not rewrite:  # a settled object is left alone
        assert set(todo.update) == {n for n in want if n in have and have[n] != want[n]}
