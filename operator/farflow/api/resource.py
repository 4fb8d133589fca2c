"""The AirflowCluster object as a whole: identity of the kind, metadata and spec."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class Metadata(BaseModel):
    """The parts of Kubernetes object metadata FarFlow reads; the rest passes through."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: K8sName = Field(description="Name of the AirflowCluster.")
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
