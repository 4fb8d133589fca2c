"""Fixtures shared across tiers: real servers on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.controlplane",
    "tests.fixtures.operator",
    "tests.fixtures.postgres",
]


# The tiers' order: the quick ones first; `farflow dev` before the local control plane starts
# (it needs none, and 2 cores are better spent on its own Airflow); the e2e tier, whose
# Airflow stack lives for its whole folder, last; the IAM policy check after everything, as
# it reads what every other test made the operator call.
ORDER = ("unit", "aws", "dev", "cluster", "helm", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: within a tier, the files' own order


def _rank(item: pytest.Item) -> int:
    if item.path.name == "test_iam_policy.py":
        return len(ORDER) + 1
    tier = item.path.relative_to(Path(__file__).parent).parts[0]
    return ORDER.index(tier) if tier in ORDER else len(ORDER)
