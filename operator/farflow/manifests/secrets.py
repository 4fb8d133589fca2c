"""Secrets FarFlow generates once per cluster (the keys every component must share: created,
never updated, so a reconcile cannot rotate them), and Secrets mirroring values kept in AWS."""

from __future__ import annotations

import base64
import secrets

from farflow.manifests.meta import metadata
from farflow.objects import CREATE_ONCE_ANNOTATION, Manifest, Owner
from farflow.plan.config import API_SECRET_KEY, FERNET_KEY, JWT_SECRET
from farflow.plan.model import Plan


def generated_keys(plan: Plan) -> dict[str, tuple[str, ...]]:
    """Secret name -> the keys FarFlow generates into it."""
    return {plan.names.secrets: (FERNET_KEY, JWT_SECRET, API_SECRET_KEY)}


def generate_value(key: str) -> str:
    """A fresh random value; a Fernet key must be 32 url-safe base64-encoded bytes."""
    if key == FERNET_KEY:
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(32)


def mirrored_secret(plan: Plan, owner: Owner, name: str, values: dict[str, str]) -> Manifest:
    """A Secret that mirrors values kept in AWS (the database URL, the admin password).

    ``data`` rather than ``stringData``, so it compares equal to the live object."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(plan, owner, name, "secrets"),
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
    }


def secret(plan: Plan, owner: Owner, name: str, values: dict[str, str]) -> Manifest:
    """A generated Secret holding ``values``."""
    meta = metadata(plan, owner, name, "secrets")
    meta["annotations"] = {CREATE_ONCE_ANNOTATION: "true"}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "stringData": values,
    }
