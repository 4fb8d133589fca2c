"""Generates the AirflowCluster CRD from the typed models (`farflow crd`).

pydantic's JSON schema becomes a Kubernetes structural schema: references inlined, optional
fields unwrapped, only scalar defaults kept (the API server applies them inside objects the user
wrote; `farflow.api.parse` applies the rest), and the CEL rules carried as-is.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from farflow.api.resource import (
    CLUSTER_NAME,
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
)
from farflow.api.spec import AirflowClusterSpec
from farflow.api.status import AirflowClusterStatus

Schema = dict[str, Any]
# The FarFlow release whose models made the CRD: see farflow.upgrade.
CRD_VERSION_ANNOTATION = "farflow.io/version"

# Keywords a structural schema may carry over from pydantic's output unchanged.
_KEPT = (
    "type", "description", "enum", "format", "pattern", "minimum", "maximum", "minLength",
    "maxLength", "minItems", "maxItems", "maxProperties", "required",
    "x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
)  # fmt: skip

PRINTER_COLUMNS = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Airflow", "type": "string", "jsonPath": ".status.airflowVersion"},
    {
        "name": "Workers",
        "type": "string",
        "jsonPath": ".status.workers.readyOfDesired",
        "description": "Celery workers of the default pool ready / desired",
    },
    {"name": "URL", "type": "string", "jsonPath": ".status.apiServerUrl"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def crd() -> Schema:
    """The complete CustomResourceDefinition object."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            # The release it comes from: an older operator leaves a newer CRD as it is.
            "annotations": {CRD_VERSION_ANNOTATION: version("farflow")},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": ["farflow"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": _object_schema()},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                }
            ],
        },
    }


def _object_schema() -> Schema:
    return {
        "type": "object",
        "description": "An Apache Airflow 3 deployment on EKS Fargate, run by the FarFlow "
        "operator: API server, scheduler, DAG processor, triggerer and Celery workers, with "
        "its database, broker and logs on AWS.",
        "required": ["spec"],
        # The API server accepts any DNS subdomain as a name; FarFlow's derived names need less.
        "x-kubernetes-validations": [
            {
                "rule": f"self.metadata.name.matches('^{CLUSTER_NAME.pattern}$')",
                "message": f"metadata.name {CLUSTER_NAME.message}",
            }
        ],
        "properties": {
            "apiVersion": {"type": "string", "description": "API version of the object."},
            "kind": {"type": "string", "description": "Kind of the object."},
            "metadata": {"type": "object"},
            "spec": structural(AirflowClusterSpec.model_json_schema(by_alias=True)),
            "status": structural(AirflowClusterStatus.model_json_schema(by_alias=True)),
        },
    }


def structural(schema: Schema) -> Schema:
    """A pydantic JSON schema rewritten as a Kubernetes structural schema."""
    return _convert(schema, schema.get("$defs", {}))


def _convert(node: Schema, defs: dict[str, Schema]) -> Schema:
    node = _unwrapped(node, defs)
    out: Schema = {key: node[key] for key in _KEPT if key in node}
    if "const" in node:
        out["enum"] = [node["const"]]
    if _is_plain_default(node.get("default")):
        out["default"] = node["default"]
    if "properties" in node:
        out["properties"] = {
            name: _convert(child, defs) for name, child in node["properties"].items()
        }
    if "items" in node:
        out["items"] = _convert(node["items"], defs)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _convert(node["additionalProperties"], defs)
    return out


def _unwrapped(node: Schema, defs: dict[str, Schema]) -> Schema:
    """Follows a $ref and drops the null branch of an optional; the outer keys win."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        outer = {key: value for key, value in node.items() if key != "$ref"}
        return _unwrapped({**target, **outer}, defs)
    if "anyOf" in node:
        branches = [branch for branch in node["anyOf"] if branch.get("type") != "null"]
        if len(branches) != 1:
            raise ValueError(f"cannot express a union in a structural schema: {node['anyOf']}")
        outer = {key: value for key, value in node.items() if key != "anyOf"}
        return _unwrapped({**branches[0], **outer}, defs)
    return node


def _is_plain_default(value: Any) -> bool:
    """Scalars and lists of scalars; objects get their defaults from their own fields."""
    if isinstance(value, list):
        return all(_is_plain_default(item) for item in value)
    return isinstance(value, str | int | float | bool)
