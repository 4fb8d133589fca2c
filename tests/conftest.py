"""Fixtures shared across tiers: real servers on loopback."""

pytest_plugins = ["tests.fixtures.aws", "tests.fixtures.operator"]
