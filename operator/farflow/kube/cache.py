"""The objects FarFlow owns, read from kopf's watches instead of the API server.

kopf keeps an index of every object of the kinds below that carries FarFlow's managed-by
label, fed by one watch per kind. Reads of them (before applying, when pruning, when
observing the rollout) come from there, so a settled cluster's resync costs a few requests
whatever the number of its children; everything else (a user's Secret, the shared log
routing) is read from the API server. Writes always go to the API server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from farflow.kube.client import Kube
from farflow.objects import Manifest

# (apiVersion, kind) -> (group, version, plural): what FarFlow creates, so watches and prunes.
OWNED: dict[tuple[str, str], tuple[str, str, str]] = {
    ("apps/v1", "Deployment"): ("apps", "v1", "deployments"),
    ("batch/v1", "Job"): ("batch", "v1", "jobs"),
    ("policy/v1", "PodDisruptionBudget"): ("policy", "v1", "poddisruptionbudgets"),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networking.k8s.io", "v1", "networkpolicies"),
    ("v1", "Service"): ("", "v1", "services"),
    ("v1", "ConfigMap"): ("", "v1", "configmaps"),
    ("v1", "Secret"): ("", "v1", "secrets"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): (
        "rbac.authorization.k8s.io", "v1", "rolebindings",
    ),
    ("rbac.authorization.k8s.io/v1", "Role"): ("rbac.authorization.k8s.io", "v1", "roles"),
    ("v1", "ServiceAccount"): ("", "v1", "serviceaccounts"),
    # EKS's, for security groups for pods; an API server without its CRD has none.
    ("vpcresources.k8s.aws/v1beta1", "SecurityGroupPolicy"): (
        "vpcresources.k8s.aws", "v1beta1", "securitygrouppolicies",
    ),
}  # fmt: skip

# The watched objects of one kind: (namespace, name) -> the object's versions (one, but
# for an object deleted and made again in between).
Index = Mapping[tuple[str, str], Iterable[Manifest]]


def index_id(api_version: str, kind: str) -> str:
    """The name of kind's index, as kopf hands it to handlers."""
    return f"owned_{OWNED[(api_version, kind)][2]}"


class CachedKube(Kube):
    """A Kube whose reads of owned objects come from the watches' ``indices`` for the
    ``namespaces`` the operator watches (None: all of them)."""

    def __init__(
        self, base: Kube, indices: Mapping[tuple[str, str], Index], namespaces: Iterable[str] | None
    ) -> None:
        vars(self).update(vars(base))  # the same client and discovery caches
        self._indices = indices
        self._namespaces = None if namespaces is None else frozenset(namespaces)

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> Manifest | None:
        """From the index when it has the object; else from the API server, as the index
        holds only FarFlow's objects (a user's Secret of the same kind is not in it)."""
        index = self._index(api_version, kind, namespace)
        found = next(iter(index.get((namespace, name), ())), None) if index else None
        return found if found is not None else super().get(api_version, kind, name, namespace)

    def list(self, api_version: str, kind: str, namespace: str, selector: str) -> list[Manifest]:
        index = self._index(api_version, kind, namespace)
        if index is None:
            return super().list(api_version, kind, namespace, selector)
        wanted = dict(term.split("=", 1) for term in selector.split(","))
        return [
            live
            for (found_namespace, _), versions in index.items()
            if found_namespace == namespace
            for live in versions
            if wanted.items() <= (live["metadata"].get("labels") or {}).items()
        ]

    def _index(self, api_version: str, kind: str, namespace: str) -> Index | None:
        if self._namespaces is not None and namespace not in self._namespaces:
            return None
        return self._indices.get((api_version, kind))


def indexed(body: Mapping[str, Any]) -> dict[tuple[str, str], Manifest]:
    """What kopf's index of an owned kind keeps of one object: all of it, by its name."""
    meta = body["metadata"]
    return {(meta["namespace"], meta["name"]): plain(body)}


def plain(value: Any) -> Any:
    """kopf's read-only views as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
