"""farflow.runtime's modules in Airflow pods: a ConfigMap, mounted at RUNTIME_DIR (on every
Airflow container's PYTHONPATH), and the preflight and bootstrap init containers that run
two of them."""

from __future__ import annotations

import json

from farflow.manifests.meta import metadata
from farflow.objects import Manifest, Owner
from farflow.plan.model import EnvVar, Plan
from farflow.runtime import BOOTSTRAP_DIR, BOOTSTRAP_SCRIPT, RUNTIME_DIR, sources

# The ENTRYPOINT of the apache/airflow image, which airflow/Dockerfile inherits.
IMAGE_ENTRYPOINT = ("/usr/bin/dumb-init", "--", "/entrypoint")
VOLUME = "farflow-runtime"
PREFLIGHT = ("python", "-m", "farflow_preflight")
BOOTSTRAP = ("python", "-m", "farflow_bootstrap")
# Sources the startup script, then becomes the component with what the script exported.
STARTUP = ("python", "-m", "farflow_startup")
BOOTSTRAP_VOLUME = {"name": "farflow-bootstrap", "emptyDir": {}}


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
BOOTSTRAP_MOUNT = {"name": BOOTSTRAP_VOLUME["name"], "mountPath": BOOTSTRAP_DIR}


def preflight_env(plan: Plan) -> tuple[EnvVar, ...]:
    """What farflow_preflight checks: the modules the configuration imports, in this image."""
    return (
        EnvVar("FARFLOW_REQUIRED_MODULES", json.dumps(plan.required_modules, sort_keys=True)),
        EnvVar("FARFLOW_IMAGE", plan.image),
    )


def bootstrap_env(plan: Plan) -> tuple[EnvVar, ...]:
    """What farflow_bootstrap fetches and installs, and where."""
    return (
        EnvVar("FARFLOW_BOOTSTRAP", plan.bootstrap or "{}"),
        EnvVar("FARFLOW_BOOTSTRAP_DIR", BOOTSTRAP_DIR),
    )


def startup_env(plan: Plan) -> tuple[EnvVar, ...]:
    """Where the Airflow container finds the startup script it sources, and where it came
    from (for its errors); nothing without one."""
    if plan.startup_script is None:
        return ()
    return (
        EnvVar("FARFLOW_STARTUP_SCRIPT", BOOTSTRAP_SCRIPT),
        EnvVar("FARFLOW_STARTUP_SOURCE", plan.startup_script),
    )
