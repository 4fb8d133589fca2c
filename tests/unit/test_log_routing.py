"""The shared aws-logging ConfigMap: FarFlow edits only its own block."""

from __future__ import annotations

import pytest

from farflow.kube.log_routing import output_block, with_block

pytestmark = pytest.mark.unit
THEIRS = "[OUTPUT]\n    Name cloudwatch_logs\n    Match kube.*\n    log_group_name platform\n"


def test_adds_a_block_after_what_is_there() -> None:
    block = output_block("data", "prod", "eu-west-1", "/farflow/data/prod")
    merged = with_block(THEIRS, "data/prod", block)
    assert merged.startswith(THEIRS)
    assert "    Match kube.var.log.containers.prod-*_data_*" in merged
    assert merged.count("# BEGIN farflow data/prod") == 1


def test_replacing_is_idempotent_and_keeps_other_blocks() -> None:
    other = with_block(THEIRS, "data/dev", "[OUTPUT]\n    Name null")
    first = with_block(other, "data/prod", "[OUTPUT]\n    Name a")
    second = with_block(first, "data/prod", "[OUTPUT]\n    Name b")
    assert with_block(second, "data/prod", "[OUTPUT]\n    Name b") == second
    assert "Name a" not in second
    assert "Name b" in second
    assert "# BEGIN farflow data/dev" in second


def test_removing_restores_the_original() -> None:
    merged = with_block(THEIRS, "data/prod", "[OUTPUT]\n    Name a")
    assert with_block(merged, "data/prod", None) == THEIRS
    assert with_block("", "data/prod", None) == ""


def test_rewriting_a_block_leaves_it_where_it_stands() -> None:
    first = with_block(THEIRS, "data/prod", "[OUTPUT]\n    Name a")
    both = with_block(first, "data/dev", "[OUTPUT]\n    Name b")
    assert with_block(both, "data/prod", "[OUTPUT]\n    Name a") == both  # no write at rest
    changed = with_block(both, "data/prod", "[OUTPUT]\n    Name c")
    assert changed.index("Name c") < changed.index("Name b")
