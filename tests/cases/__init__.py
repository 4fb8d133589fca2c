"""Shared test data: the example manifests and the table of invalid ones."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from farflow.api.spec import IDENTITY

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MINIMAL = EXAMPLES / "airflowcluster-minimal.yaml"
FULL = EXAMPLES / "airflowcluster-full.yaml"
TASKS = EXAMPLES / "airflowcluster-tasks.yaml"  # what the e2e tier runs
DEV = EXAMPLES / "airflowcluster-dev.yaml"  # what farflow dev up runs by default
FROM_MWAA = EXAMPLES / "airflowcluster-from-mwaa.yaml"  # README "Coming from MWAA"
ALL_EXAMPLES = (MINIMAL, FULL, TASKS, DEV, FROM_MWAA)
INVALID = Path(__file__).with_name("invalid_manifests.yaml")
IDENTITY_CHANGES = Path(__file__).with_name("identity_changes.yaml")
SECURITY_GROUP_POLICY_CRD = Path(__file__).parent / "crds" / "securitygrouppolicy.yaml"


def load(path: Path) -> dict[str, Any]:
    """The single YAML document in ``path``."""
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def invalid_cases() -> list[dict[str, Any]]:
    """Every entry of invalid_manifests.yaml."""
    cases: list[dict[str, Any]] = yaml.safe_load(INVALID.read_text())
    return cases


def identity_changes() -> list[dict[str, Any]]:
    """Every entry of identity_changes.yaml."""
    cases: list[dict[str, Any]] = yaml.safe_load(IDENTITY_CHANGES.read_text())
    return cases


def identity_message(field: str) -> str:
    """The message of the transition rule on ``field`` (spec.<path>)."""
    return next(rule.message for rule in IDENTITY if "spec." + ".".join(rule.path) == field)


def merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` deep-merged in; a None in the patch deletes the key."""
    result = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def invalid_manifest(case: dict[str, Any]) -> dict[str, Any]:
    """The minimal example with the case's patch applied."""
    return merged(load(MINIMAL), case["patch"])
