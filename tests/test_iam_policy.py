"""The IAM policies of docs/ allow every call the test run recorded, and no more than FarFlow's
names: each recorded (action, resource ARN) must match a statement naming that action whose
Resource pattern matches the ARN (conditions are AWS's to evaluate and are not checked here).

The proxy in front of moto records every call with its caller: the operator by its user
agent app id (`farflow`), the Airflow pods and the task containers by the access keys the e2e
tier and the task-container tests give them. This module runs last (see tests/conftest.py),
after every tier had its say.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.cases import ROOT
from tests.fixtures.aws import AIRFLOW_PODS_KEY, TASK_KEY
from tests.fixtures.aws_proxy import AwsProxy
from tests.fixtures.iam_resources import Pair

OPERATOR = ROOT / "docs" / "iam-policy.json"
# The operator's second policy, for spec.metrics' dashboards and alarms: the first is at the
# managed policy's size limit.
OPERATOR_METRICS = ROOT / "docs" / "iam-metrics-policy.json"
AIRFLOW = ROOT / "docs" / "iam-airflow-policy.json"
TASK = ROOT / "docs" / "iam-task-policy.json"
POLICIES = (OPERATOR, OPERATOR_METRICS, AIRFLOW, TASK)
# Actions IAM authorizes on "*" only (no resource-level permissions), so the only actions a
# statement may grant on "*".
WITHOUT_RESOURCE_LEVEL = {
    "cloudwatch:DescribeAlarms",
    "cloudwatch:PutMetricData",
    "ecs:DeregisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ecs:ListTasks",
    "ecs:RegisterTaskDefinition",
    "logs:DescribeLogGroups",
    "sts:GetCallerIdentity",
}
MANAGED_POLICY_LIMIT = 6144  # characters, whitespace not counted


@cache
def statements(path: Path) -> list[dict[str, Any]]:
    policy: dict[str, Any] = json.loads(path.read_text())
    return list(policy["Statement"])


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def matches(pattern: str, arn: str) -> bool:
    """IAM's wildcards: * any characters, ? one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def allowed(paths: tuple[Path, ...], pair: Pair) -> bool:
    action, arn = pair
    return any(
        action in listed(statement["Action"])
        and any(matches(pattern, arn) for pattern in listed(statement["Resource"]))
        for statement in (s for path in paths for s in statements(path))
    )


def denied(pairs: set[Pair], *paths: Path) -> list[Pair]:
    """The calls none of the caller's policies ``paths`` allows."""
    assert pairs, f"no call of this caller was recorded, so {paths[0].name} was not checked"
    return sorted(pair for pair in pairs if not allowed(paths, pair))


@pytest.mark.unit
@pytest.mark.parametrize("path", POLICIES, ids=[path.name for path in POLICIES])
def test_policy_is_a_scoped_allow_list(path: Path) -> None:
    policy = json.loads(path.read_text())
    assert policy["Version"] == "2012-10-17"
    assert len(re.sub(r"\s", "", path.read_text())) <= MANAGED_POLICY_LIMIT
    for statement in statements(path):
        assert statement["Effect"] == "Allow"
        actions = listed(statement["Action"])
        assert all(":" in action and "*" not in action for action in actions)
        if "*" in listed(statement["Resource"]):
            assert set(actions) <= WITHOUT_RESOURCE_LEVEL, statement["Sid"]
    passed = [s for s in statements(path) if "iam:PassRole" in listed(s["Action"])]
    assert all(listed(s["Resource"]) == ["arn:aws:iam::*:role/farflow/*"] for s in passed)


@pytest.mark.aws
def test_every_call_the_operator_made_is_allowed(aws_proxy: AwsProxy) -> None:
    made = aws_proxy.pairs(app="farflow") | aws_proxy.pairs(app="farflow-autoscaler")
    assert denied(made, OPERATOR, OPERATOR_METRICS) == []


@pytest.mark.aws
def test_every_call_the_task_containers_made_is_allowed(aws_proxy: AwsProxy) -> None:
    assert denied(aws_proxy.pairs(principal=TASK_KEY), TASK) == []


@pytest.mark.e2e
def test_every_call_the_airflow_pods_made_is_allowed(aws_proxy: AwsProxy) -> None:
    assert denied(aws_proxy.pairs(principal=AIRFLOW_PODS_KEY), AIRFLOW) == []
