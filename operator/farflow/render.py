"""What `farflow render` prints: the operator's own manifests, computed without a cluster."""

from __future__ import annotations

from farflow.api import AirflowCluster, resolve
from farflow.aws.facts import offline
from farflow.manifests import manifests
from farflow.objects import Manifest, Owner
from farflow.plan import plan
from farflow.plan.config import SHARED_KEYS

UNKNOWN_UID = "00000000-0000-0000-0000-000000000000"  # assigned by the API server


def rendered(cluster: AirflowCluster, account_id: str) -> list[Manifest]:
    """The manifests the operator applies for ``cluster``; the values of the Secrets it
    mirrors from AWS show where they come from instead."""
    resolved = resolve(cluster)
    owner = Owner(cluster.api_version, cluster.kind, resolved.name, UNKNOWN_UID)
    planned = plan(resolved, offline(resolved, account_id))
    mirrored = {planned.names.secrets: dict.fromkeys(SHARED_KEYS, "<from Secrets Manager>")}
    if resolved.spec.database.rds is not None:
        database = resolved.database_secret
        mirrored[database.name] = {database.key: "<from RDS>"}
    if planned.generate_admin_password:
        mirrored[planned.admin_password.name] = {"password": "<from Secrets Manager>"}
    return manifests(planned, owner, mirrored)
