"""Fixtures shared across tiers: real servers on loopback."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.controlplane",
    "tests.fixtures.operator",
    "tests.fixtures.postgres",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The IAM policy check reads what every other test made the operator call: run it last."""
    items.sort(key=lambda item: item.path.name == "test_iam_policy.py")
