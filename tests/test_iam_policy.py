"""docs/iam-policy.json lists every AWS action the operator's code called in this test run.

The proxy in front of moto records each action; calls made by FarFlow carry its user agent
app id. This module runs last (see tests/conftest.py), after every tier had its say.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from farflow.aws.session import iam_action
from tests.cases import ROOT
from tests.fixtures.aws_proxy import AwsProxy

POLICY = ROOT / "docs" / "iam-policy.json"


def allowed_actions() -> set[str]:
    policy: dict[str, Any] = json.loads(POLICY.read_text())
    return {action for statement in policy["Statement"] for action in statement["Action"]}


@pytest.mark.aws
def test_policy_is_a_valid_allow_list() -> None:
    policy = json.loads(POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all(":" in action and "*" not in action for action in statement["Action"])


@pytest.mark.aws
def test_every_action_the_operator_called_is_in_the_policy(aws_proxy: AwsProxy) -> None:
    called = {iam_action(action) for action in aws_proxy.farflow_actions}
    if not called:
        pytest.skip("no test in this run made the operator call AWS")
    assert sorted(called - allowed_actions()) == []
