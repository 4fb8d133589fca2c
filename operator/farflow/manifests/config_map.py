"""The ConfigMap of non-secret Airflow settings every component reads as environment."""

from __future__ import annotations

import hashlib
import json

from farflow.manifests.meta import metadata
from farflow.objects import Manifest, Owner
from farflow.plan.model import Plan
from farflow.runtime import sources


def config_map(plan: Plan, owner: Owner) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(plan, owner, plan.names.config_map, "config"),
        "data": dict(sorted(plan.config.items())),
    }


def config_hash(plan: Plan) -> str:
    """Changes whenever the settings or farflow.runtime's modules change, so pods that read
    them roll."""
    return content_hash([plan.config, sources()])


def content_hash(content: object) -> str:
    """A short digest of JSON-able ``content``, for an annotation that rolls pods."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
