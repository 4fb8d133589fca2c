"""The AWS tier's fixtures: boto3 pointed at moto's server, through the fault proxy."""

from __future__ import annotations

import pytest

from tests.fixtures.aws_proxy import AwsProxy


@pytest.fixture
def aws(
    moto_server: dict[str, str], aws_faults: AwsProxy, monkeypatch: pytest.MonkeyPatch
) -> AwsProxy:
    """boto3 pointed at moto for one test; the proxy, to inject faults with."""
    for name, value in moto_server.items():
        monkeypatch.setenv(name, value)
    return aws_faults


@pytest.fixture
def moto_env(aws: AwsProxy) -> None:
    """The same, for tests that need only the environment."""
