"""The AirflowCluster API: typed spec and status, validation, defaults and the CRD."""

from farflow.api.errors import FieldError, field_errors
from farflow.api.resolve import resolve
from farflow.api.resource import API_VERSION, KIND, AirflowCluster, identity_changes, parse
from farflow.api.spec import AirflowClusterSpec
from farflow.api.status import AirflowClusterStatus

__all__ = [
    "API_VERSION",
    "KIND",
    "AirflowCluster",
    "AirflowClusterSpec",
    "AirflowClusterStatus",
    "FieldError",
    "field_errors",
    "identity_changes",
    "parse",
    "resolve",
]
