"""What `farflow render` prints: the operator's own manifests, computed without a cluster."""

from __future__ import annotations

from farflow.api import AirflowCluster, resolve
from farflow.aws.facts import offline
from farflow.manifests import manifests
from farflow.objects import Manifest, Owner
from farflow.plan import plan

UNKNOWN_UID = "00000000-0000-0000-0000-000000000000"  # assigned by the API server


def rendered(cluster: AirflowCluster, account_id: str) -> list[Manifest]:
    """The manifests the operator applies for ``cluster``; generated secret values are left
    for the operator to create, once, in the cluster."""
    resolved = resolve(cluster)
    owner = Owner(cluster.api_version, cluster.kind, resolved.name, UNKNOWN_UID)
    planned = plan(resolved, offline(resolved, account_id))
    mirrored = {}
    if resolved.spec.database.rds is not None:
        database = resolved.database_secret
        mirrored[database.name] = {database.key: "<from RDS>"}
    if planned.generate_admin_password:
        mirrored[planned.admin_password.name] = {"password": "<from Secrets Manager>"}
    return manifests(planned, owner, lambda key: f"<{key}: generated once>", mirrored)
