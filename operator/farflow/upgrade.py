"""The operator applies its own CRD when it starts, so upgrading FarFlow upgrades the
AirflowCluster schema too.

Helm installs the CRDs of a chart's crds/ folder once and never upgrades them, so a release
that adds a field would meet the old schema, and the API server would prune the new field
from every object silently. The operator knows the schema its code reads: at start it
server-side applies the CRD it generates, unless the live one already holds it, or comes
from a newer FarFlow (a rolled-back operator leaves the newer schema, and the fields stored
under it, alone)."""

from __future__ import annotations

import logging

from farflow.api.crd import CRD_VERSION_ANNOTATION, crd
from farflow.kube.apply import contains
from farflow.kube.client import Kube
from farflow.objects import FIELD_MANAGER, Manifest

log = logging.getLogger(__name__)


def release(version: str) -> tuple[int, ...]:
    """A version's numbers, for comparing releases ("0.10.0" is after "0.9.1")."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def ensure_crd(kube: Kube) -> bool:
    """Applies the operator's CRD where the live one differs; True when it wrote."""
    wanted = crd()
    meta = wanted["metadata"]
    live = kube.get(wanted["apiVersion"], wanted["kind"], meta["name"], "")
    if live is not None and (contains(live, wanted) or _newer(live, wanted)):
        return False
    kube.apply(wanted, FIELD_MANAGER)
    log.info("applied the CRD %s of FarFlow %s", meta["name"], _version(wanted))
    return True


def _version(manifest: Manifest) -> str:
    return str((manifest["metadata"].get("annotations") or {}).get(CRD_VERSION_ANNOTATION, ""))


def _newer(live: Manifest, wanted: Manifest) -> bool:
    return release(_version(live)) > release(_version(wanted))
