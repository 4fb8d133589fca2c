"""What the operator makes of an AirflowCluster, here: its AWS resources through the
operator's own `gather`, its plan and its manifests, plus the user's database Secret pointing
at the database that runs here. The e2e tier renders its cluster with this too."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from farflow.api.resolve import ResolvedCluster
from farflow.aws.facts import Known, gather
from farflow.manifests import manifests
from farflow.objects import Manifest, Owner
from farflow.plan import AwsFacts, Plan, plan


class NotReadyError(Exception):
    """The AWS side of the cluster cannot be made (gather's errors, or a condition)."""


@dataclass(frozen=True)
class Rendered:
    resolved: ResolvedCluster
    plan: Plan
    facts: AwsFacts
    manifests: list[Manifest]  # in apply order, the database Secret first


def render(
    resolved: ResolvedCluster, database_url: str, owner: Owner, before: Known | None = None
) -> Rendered:
    """gather (boto3, wherever AWS_ENDPOINT_URL points), plan and the builders, as one
    reconcile does them."""
    gathered = gather(resolved, before)
    if gathered.facts is None:
        failed = [c.message for c in gathered.conditions if c.status != "True"]
        raise NotReadyError("; ".join([*map(str, gathered.errors), *failed]) or "AWS not ready")
    planned = plan(resolved, gathered.facts)
    rendered = manifests(planned, owner, gathered.mirrored)
    database = resolved.database_secret
    rendered.insert(0, secret(database.name, {database.key: database_url}))
    return Rendered(resolved, planned, gathered.facts, rendered)


def secret(name: str, data: dict[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }
