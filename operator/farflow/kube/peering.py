"""Whether this operator replica is the one that reconciles, from kopf's peering object.

Replicas coordinate through a KopfPeering (one namespace) or ClusterKopfPeering (all of
them): each records its priority and when it was last seen; kopf pauses every replica that
sees a live peer of higher or equal priority. Each replica gets a random priority (see
farflow.cli), so exactly one, the highest, is active.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from farflow.kube.client import Kube

API_VERSION = "kopf.dev/v1"


def state(kube: Kube, name: str, priority: int, namespace: str | None) -> str:
    """standalone without peering; active, standby (a live peer ranks higher), conflict (a
    live peer has the same priority: kopf then pauses both) or missing (no peering object)."""
    if not name:
        return "standalone"
    kind = "KopfPeering" if namespace else "ClusterKopfPeering"
    found = kube.get(API_VERSION, kind, name, namespace or "")
    if found is None:
        return "missing"
    live = [peer["priority"] for peer in (found.get("status") or {}).values() if _alive(peer)]
    if any(other > priority for other in live):
        return "standby"
    return "conflict" if live.count(priority) > 1 else "active"


def _alive(peer: Mapping[str, Any]) -> bool:
    seen = datetime.datetime.fromisoformat(str(peer["lastseen"]))
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=datetime.UTC)
    lifetime = datetime.timedelta(seconds=int(peer.get("lifetime", 60)))
    return seen + lifetime > datetime.datetime.now(datetime.UTC)
