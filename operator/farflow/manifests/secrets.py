"""Secrets mirroring values kept in AWS Secrets Manager: the keys every component shares,
the database URL, the admin password. AWS holds them, so a deleted Secret comes back with the
same values and nothing rotates them by accident."""

from __future__ import annotations

import base64

from farflow.manifests.meta import metadata
from farflow.objects import Manifest, Owner
from farflow.plan.model import Plan


def mirrored_secret(plan: Plan, owner: Owner, name: str, values: dict[str, str]) -> Manifest:
    """A Secret that mirrors values kept in AWS.

    ``data`` rather than ``stringData``, so it compares equal to the live object."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(plan, owner, name, "secrets"),
        "type": "Opaque",
        "data": encoded(values),
    }


def encoded(values: dict[str, str]) -> dict[str, str]:
    """Secret data as the API server stores it."""
    return {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}


def decoded(data: dict[str, str]) -> dict[str, str]:
    """Secret data as its values."""
    return {key: base64.b64decode(value).decode() for key, value in data.items()}
