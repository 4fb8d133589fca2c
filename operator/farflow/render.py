"""What `farflow render` prints: the operator's own manifests, computed without a cluster."""

from __future__ import annotations

from farflow.api import AirflowCluster, resolve
from farflow.aws.facts import offline
from farflow.build import Manifest, Owner, manifests
from farflow.plan import plan

UNKNOWN_UID = "00000000-0000-0000-0000-000000000000"  # assigned by the API server


def rendered(cluster: AirflowCluster, account_id: str) -> list[Manifest]:
    """The manifests the operator applies for ``cluster``; generated secret values are left
    for the operator to create, once, in the cluster."""
    facts = offline(cluster, resolve(cluster), account_id)
    owner = Owner(cluster.api_version, cluster.kind, cluster.metadata.name, UNKNOWN_UID)
    return manifests(plan(cluster, facts), owner, lambda key: f"<{key}: generated once>")
