"""Whether a live object already holds a manifest: the test that keeps resyncs write-free."""

from __future__ import annotations

import pytest

from farflow.kube.apply import contains

pytestmark = pytest.mark.unit


def test_live_defaults_and_extra_fields_do_not_count() -> None:
    desired = {"spec": {"ports": [{"port": 8080, "name": "http"}]}}
    live = {
        "spec": {
            "ports": [{"port": 8080, "name": "http", "nodePort": 31000}],
            "clusterIP": "10.0.0.1",
        },
        "status": {},
    }
    assert contains(live, desired)


def test_a_changed_value_counts() -> None:
    assert not contains({"spec": {"replicas": 2}}, {"spec": {"replicas": 3}})


def test_list_length_and_order_count() -> None:
    assert not contains({"args": ["a", "b"]}, {"args": ["a"]})
    assert not contains({"args": ["b", "a"]}, {"args": ["a", "b"]})


def test_empty_values_match_absent_fields() -> None:
    assert contains({"env": [{"name": "A"}]}, {"env": [{"name": "A", "value": ""}]})
    assert not contains({"env": [{"name": "A"}]}, {"env": [{"name": "A", "value": "x"}]})


def test_zero_replicas_must_be_present() -> None:
    assert contains({"spec": {"replicas": 0}}, {"spec": {"replicas": 0}})
    assert not contains({"spec": {"replicas": 1}}, {"spec": {"replicas": 0}})
