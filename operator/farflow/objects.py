"""The conventions every Kubernetes object FarFlow writes follows: the manifest type, the
labels, the annotations, the field manager, the owner reference and the prune selector.

The builders, `farflow.kube` and the local runtime all import them from here, so a label
the builders set is the label `prune` selects by.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]
# Kubernetes' $(VAR) in a container's env values and command line.
ENV_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

FIELD_MANAGER = "farflow"  # server-side apply's field manager, and app.kubernetes.io/managed-by
CLUSTER_LABEL = "farflow.io/cluster"  # the AirflowCluster's name: unique in its namespace only
COMPONENT_LABEL = "app.kubernetes.io/component"
# <namespace>.<name> of the AirflowCluster: unique in the whole Kubernetes cluster, so objects
# in a task namespace two clusters share, and the pods a Fargate profile selects, tell their
# owners apart.
OWNER_LABEL = "farflow.io/owner"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
VERSION_LABEL = "app.kubernetes.io/version"  # the Airflow version an object is for
# What the Fargate profile selects on: every pod FarFlow starts, or tells DAGs to start, has it.
FARGATE_LABELS = {"farflow.io/fargate": "true"}
# The Fargate profile FarFlow made that a pod is meant for (its configuration's digest): two
# profiles of a cluster overlap while one replaces the other, and EKS picks at random among
# the profiles a pod matches, so pods move to a new profile only by changing this label.
PROFILE_LABEL = "farflow.io/fargate-profile"
# Where EKS records the profile a pod was scheduled through.
EKS_PROFILE_ANNOTATION = "eks.amazonaws.com/fargate-profile"

# Pod template annotations whose change rolls the pods: the Airflow settings they read, the
# data of the Secrets they read, and (on the scheduler) the Kubernetes executor's template.
CONFIG_HASH_ANNOTATION = "farflow.io/config-hash"
SECRETS_HASH_ANNOTATION = "farflow.io/secrets-hash"
POD_TEMPLATE_HASH_ANNOTATION = "farflow.io/pod-template-hash"
# Keeps the AirflowCluster until what owner references cannot remove is cleaned up.
FINALIZER = "farflow.io/aws-cleanup"
# On an AirflowCluster being deleted: finish without deleting its AWS resources (the way out
# of a deletion that cannot clean up); an Event lists what is left.
SKIP_AWS_CLEANUP_ANNOTATION = "farflow.io/skip-aws-cleanup"
AUTOSCALER_FIELD_MANAGER = "farflow-autoscaler"  # owns the workers' replicas


@dataclass(frozen=True)
class Owner:
    """The AirflowCluster that owns the objects; its uid ties their lifetime to it."""

    api_version: str
    kind: str
    name: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def owner_value(namespace: str, cluster: str) -> str:
    """The OWNER_LABEL value: namespace.name, hash-shortened to a label value's 63 characters
    (a namespace has no dots, so the first dot separates the two)."""
    full = f"{namespace}.{cluster}"
    if len(full) <= 63:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[:54].rstrip('-.')}-{digest}"


def fargate_labels(namespace: str, cluster: str) -> dict[str, str]:
    """What every pod of the cluster carries for the Fargate profiles: FarFlow's label, and
    its owner's, so that a profile FarFlow creates selects this cluster's pods only."""
    return {**FARGATE_LABELS, OWNER_LABEL: owner_value(namespace, cluster)}


def selector_labels(cluster: str, component: str) -> dict[str, str]:
    """Immutable labels a Deployment selects its pods by."""
    return {
        "app.kubernetes.io/name": "airflow",
        "app.kubernetes.io/instance": cluster,
        COMPONENT_LABEL: component,
        CLUSTER_LABEL: cluster,
    }


def labels(cluster: str, owner: str, component: str, version: str) -> dict[str, str]:
    """Standard labels of an object of ``component``; ``owner`` is its owner_value."""
    return {
        **selector_labels(cluster, component),
        OWNER_LABEL: owner,
        VERSION_LABEL: version,
        "app.kubernetes.io/part-of": "farflow",
        MANAGED_BY_LABEL: FIELD_MANAGER,
    }


def prune_selector(label: str, value: str) -> str:
    """The label selector of the objects FarFlow made with ``label=value``: in its own
    namespace the cluster's name (what earlier versions labelled too), elsewhere its owner."""
    return f"{label}={value},{MANAGED_BY_LABEL}={FIELD_MANAGER}"


def made_by_farflow_for(live: Manifest, owner: str) -> bool:
    """Whether FarFlow made the live object for the cluster with that owner_value."""
    found = live.get("metadata", {}).get("labels") or {}
    return found.get(MANAGED_BY_LABEL) == FIELD_MANAGER and found.get(OWNER_LABEL) == owner


def key(manifest: Manifest) -> tuple[str, str, str, str]:
    """apiVersion, kind, namespace and name: what identifies an object."""
    meta = manifest["metadata"]
    return (manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: unknown references stay as they are."""
    return ENV_REFERENCE.sub(lambda match: env.get(match.group(1), match.group(0)), text)
