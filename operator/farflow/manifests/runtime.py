"""farflow.runtime's modules in Airflow pods: a ConfigMap, mounted at RUNTIME_DIR (on every
Airflow container's PYTHONPATH), and the preflight init container that runs one of them."""

from __future__ import annotations

import json

from farflow.manifests.meta import metadata
from farflow.objects import Manifest, Owner
from farflow.plan.model import EnvVar, Plan
from farflow.runtime import RUNTIME_DIR, sources

VOLUME = "farflow-runtime"
PREFLIGHT = ("python", "-m", "farflow_preflight")


def runtime_config_map(plan: Plan, owner: Owner) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(plan, owner, plan.names.runtime, "runtime"),
        "data": sources(),
    }


def runtime_volume(plan: Plan) -> Manifest:
    return {"name": VOLUME, "configMap": {"name": plan.names.runtime}}


RUNTIME_MOUNT = {"name": VOLUME, "mountPath": RUNTIME_DIR, "readOnly": True}


def preflight_env(plan: Plan) -> tuple[EnvVar, ...]:
    """What farflow_preflight checks: the modules the configuration imports, in this image."""
    return (
        EnvVar("FARFLOW_REQUIRED_MODULES", json.dumps(plan.required_modules, sort_keys=True)),
        EnvVar("FARFLOW_IMAGE", plan.image),
    )
