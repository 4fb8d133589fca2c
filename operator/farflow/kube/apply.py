"""Server-side apply of a cluster's manifests, writing only what differs, and pruning.

A reconcile with nothing to change must make no write request at all, so each object is read
first and applied only when the live object lacks what the manifest says.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

from kubernetes.dynamic.exceptions import ConflictError

from farflow.kube.cache import OWNED
from farflow.kube.client import Kube
from farflow.objects import FIELD_MANAGER, Manifest, key

# Kinds FarFlow creates, so the only kinds it ever prunes.
PRUNABLE = tuple(OWNED)
Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name


def contains(live: object, desired: object) -> bool:
    """Whether ``live`` already holds every value of ``desired``; the API server drops
    empty values, so an absent field matches an empty one."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            contains(live[k], v) if k in live else not v for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(contains(a, b) for a, b in zip(live, desired, strict=True))
        )
    return bool(live == desired)


def _create_once(manifest: Manifest) -> bool:
    """Jobs are immutable, and named per migration input: created once, never applied."""
    return bool(manifest["kind"] == "Job")


def sync(kube: Kube, manifests: Iterable[Manifest]) -> list[Key]:
    """Applies each manifest that differs from its live object; returns what was written."""
    written = []
    for manifest in manifests:
        api_version, kind, namespace, name = key(manifest)
        live = kube.get(api_version, kind, name, namespace)
        if _create_once(manifest):
            if live is None:
                _create(kube, manifest)
                written.append(key(manifest))
        elif live is None or not contains(live, manifest):
            kube.apply(manifest, FIELD_MANAGER)
            written.append(key(manifest))
    return written


def write(kube: Kube, manifests: Iterable[Manifest]) -> None:
    """Applies each manifest as it is, without reading it first: for objects already known
    to differ from their live state."""
    for manifest in manifests:
        kube.apply(manifest, FIELD_MANAGER)


def _create(kube: Kube, manifest: Manifest) -> None:
    # Already there from an earlier, interrupted reconcile: keep its values.
    with contextlib.suppress(ConflictError):
        kube.create(manifest)


def prune(kube: Kube, selectors: Mapping[str, str], wanted: Iterable[Manifest]) -> list[Key]:
    """Deletes objects of the cluster that the plan no longer wants: in each namespace, what
    its selector (see farflow.manifests.meta.prune_selectors) finds."""
    keep = {key(m) for m in wanted}
    removed = []
    served = [
        (api_version, kind) for api_version, kind in PRUNABLE if kube.serves(api_version, kind)
    ]
    for namespace, selector in sorted(selectors.items()):
        for api_version, kind in served:
            for live in kube.list(api_version, kind, namespace, selector):
                live_key = (api_version, kind, namespace, live["metadata"]["name"])
                if live_key not in keep:
                    kube.delete(api_version, kind, live_key[3], namespace)
                    removed.append(live_key)
    return removed
