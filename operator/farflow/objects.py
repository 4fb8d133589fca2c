"""The conventions every Kubernetes object FarFlow writes follows: the manifest type, the
labels, the annotations, the field manager, the owner reference and the prune selector.

The builders, `farflow.kube` and the local runtime all import them from here, so a label
the builders set is the label `prune` selects by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]

FIELD_MANAGER = "farflow"  # server-side apply's field manager, and app.kubernetes.io/managed-by
CLUSTER_LABEL = "farflow.io/cluster"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
VERSION_LABEL = "app.kubernetes.io/version"  # the Airflow version an object is for
# What the Fargate profile selects on: every pod FarFlow starts, or tells DAGs to start, has it.
FARGATE_LABELS = {"farflow.io/fargate": "true"}

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


def selector_labels(cluster: str, component: str) -> dict[str, str]:
    """Immutable labels a Deployment selects its pods by."""
    return {
        "app.kubernetes.io/name": "airflow",
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/component": component,
        CLUSTER_LABEL: cluster,
    }


def labels(cluster: str, component: str, version: str) -> dict[str, str]:
    """Standard labels of an object of ``component``."""
    return {
        **selector_labels(cluster, component),
        VERSION_LABEL: version,
        "app.kubernetes.io/part-of": "farflow",
        MANAGED_BY_LABEL: FIELD_MANAGER,
    }


def prune_selector(cluster: str) -> str:
    """The label selector of every object FarFlow made for ``cluster``."""
    return f"{CLUSTER_LABEL}={cluster},{MANAGED_BY_LABEL}={FIELD_MANAGER}"


def key(manifest: Manifest) -> tuple[str, str, str, str]:
    """apiVersion, kind, namespace and name: what identifies an object."""
    meta = manifest["metadata"]
    return (manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
