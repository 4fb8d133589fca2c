"""The AirflowCluster object as a whole: identity of the kind, metadata and spec."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from farflow.api.errors import FieldError
from farflow.api.rules import Matching
from farflow.api.spec import AirflowClusterSpec
from farflow.api.status import AirflowClusterStatus
from farflow.api.types import K8sName

GROUP = "farflow.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "AirflowCluster"
PLURAL = "airflowclusters"
SINGULAR = "airflowcluster"
SHORT_NAMES = ("af",)
# The longest name whose derived names still fit: <name>-migrate-<8 hex> is a Job name, and a
# Job's name must fit its pods' 63-character job-name label; <name>-api-server is a Service,
# a DNS label that starts with a letter and has no dots.
MAX_NAME_LENGTH = 46
CLUSTER_NAME = Matching(
    f"[a-z]([-a-z0-9]{{0,{MAX_NAME_LENGTH - 2}}}[a-z0-9])?",
    f"must start with a lowercase letter and be at most {MAX_NAME_LENGTH} lowercase letters, "
    "digits and '-' (no dots): FarFlow derives names such as <name>-api-server and "
    "<name>-migrate-<hash> from it",
    253,  # the API server's own limit: longer names are refused by the pattern, with its message
)


class Metadata(BaseModel):
    """The parts of Kubernetes object metadata FarFlow reads; the rest passes through."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: Annotated[str, CLUSTER_NAME] = Field(description="Name of the AirflowCluster.")
    namespace: K8sName = Field("default", description="Namespace of the AirflowCluster.")
    uid: str | None = Field(None, description="The API server's id of the object.")


class AirflowCluster(BaseModel):
    """An AirflowCluster manifest, as `kubectl apply` would send it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    api_version: Literal["farflow.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["AirflowCluster"]
    metadata: Metadata
    spec: AirflowClusterSpec
    status: AirflowClusterStatus | None = None


def parse(manifest: dict[str, Any]) -> AirflowCluster:
    """Validates a manifest; raises pydantic.ValidationError naming each bad field."""
    return AirflowCluster.model_validate(manifest)


def identity_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldError]:
    """What the API server's transition rules refuse in an update of the manifest ``old`` to
    ``new``: a changed field that names the cluster's resources."""
    before, after = old.get("spec") or {}, new.get("spec") or {}
    return [
        FieldError("spec." + ".".join(rule.path), rule.message)
        for rule in AirflowClusterSpec.immutable
        if rule.changed(before, after)
    ]
