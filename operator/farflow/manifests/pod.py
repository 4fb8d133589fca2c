"""Pod templates for Airflow containers: Fargate placement, restricted security, env, probes."""

from __future__ import annotations

from typing import Any

from farflow.manifests.config_map import config_hash
from farflow.manifests.meta import component_labels
from farflow.manifests.runtime import (
    BOOTSTRAP,
    BOOTSTRAP_MOUNT,
    BOOTSTRAP_VOLUME,
    IMAGE_ENTRYPOINT,
    PREFLIGHT,
    RUNTIME_MOUNT,
    STARTUP,
    bootstrap_env,
    preflight_env,
    runtime_volume,
    startup_env,
)
from farflow.manifests.service_accounts import account_of
from farflow.objects import CONFIG_HASH_ANNOTATION, Manifest
from farflow.plan.model import EnvVar, Plan, Probe, Size

AIRFLOW_UID = 50000  # the official Airflow image's user; its group is 0

CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": AIRFLOW_UID,
    "runAsGroup": 0,
    "fsGroup": 0,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def env_entry(env: EnvVar) -> Manifest:
    """A container env entry; secrets only ever as secretKeyRef."""
    if env.secret is not None:
        ref = {"name": env.secret.name, "key": env.secret.key}
        return {"name": env.name, "valueFrom": {"secretKeyRef": ref}}
    return {"name": env.name, "value": env.value or ""}


def resources(size: Size) -> Manifest:
    """Requests equal to limits, as Fargate sizes pods by them."""
    amounts = {"cpu": size.cpu, "memory": size.memory}
    return {"requests": dict(amounts), "limits": dict(amounts)}


def probe(check: Probe) -> Manifest:
    action: Manifest
    if check.command:
        action = {"exec": {"command": list(check.command)}}
    elif check.http_path:
        action = {"httpGet": {"path": check.http_path, "port": check.port}}
    else:
        action = {"tcpSocket": {"port": check.port}}
    return {
        **action,
        "initialDelaySeconds": check.initial_delay_seconds,
        "periodSeconds": check.period_seconds,
        "timeoutSeconds": check.timeout_seconds,
        "failureThreshold": check.failure_threshold,
    }


def container(
    plan: Plan,
    name: str,
    command: tuple[str, ...],
    size: Size,
    env: tuple[EnvVar, ...],
    *,
    secrets: bool = True,
) -> Manifest:
    """An Airflow container (with the Airflow Secrets unless not ``secrets``); the image's
    entrypoint runs ``command``."""
    return {
        "name": name,
        "image": plan.image,
        "imagePullPolicy": plan.pull_policy,
        "args": list(command),
        "envFrom": [{"configMapRef": {"name": plan.names.config_map}}],
        "env": [env_entry(e) for e in (*(plan.secret_env if secrets else ()), *env)],
        "resources": resources(size),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [RUNTIME_MOUNT],
    }


def preflight(plan: Plan, size: Size, env: tuple[EnvVar, ...]) -> Manifest:
    """The init container that fails, naming them, when the image lacks modules the
    configuration imports; Kubernetes keeps its last log lines as the termination message."""
    checked = container(plan, "preflight", PREFLIGHT, size, (*env, *preflight_env(plan)))
    return {**checked, "terminationMessagePolicy": "FallbackToLogsOnError"}


def bootstrapped(
    plan: Plan, pod_spec: Manifest, size: Size, *, args_from_executor: bool = False
) -> Manifest:
    """The pod spec with spec.airflow's requirements, plugins and startup script: installed by
    an init container first into an emptyDir the Airflow container mounts, which sources the
    script before its args. The Kubernetes executor sets its pods' args (the task), so there
    the script's runner goes in the command, after the image's entrypoint it replaces.
    Unchanged when the cluster brings none of them."""
    if plan.bootstrap is None:
        return pod_spec
    init = container(plan, "bootstrap", BOOTSTRAP, size, ())
    init |= {
        "env": [env_entry(e) for e in bootstrap_env(plan)],  # none of the Secrets
        "volumeMounts": [*init["volumeMounts"], BOOTSTRAP_MOUNT],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    main, *others = pod_spec["containers"]
    main = {**main, "volumeMounts": [*main["volumeMounts"], {**BOOTSTRAP_MOUNT, "readOnly": True}]}
    if plan.startup_script is not None:
        main |= {"env": [*main["env"], *(env_entry(e) for e in startup_env(plan))]}
        if args_from_executor:
            main |= {"command": [*IMAGE_ENTRYPOINT, *STARTUP]}
        else:
            main |= {"args": [*STARTUP, *main["args"]]}
    return {
        **pod_spec,
        "initContainers": [init, *pod_spec.get("initContainers", [])],
        "containers": [main, *others],
        "volumes": [*pod_spec.get("volumes", []), BOOTSTRAP_VOLUME],
    }


def pod_template(plan: Plan, component: str, spec: dict[str, Any]) -> Manifest:
    """A pod template Fargate schedules, rolled whenever the Airflow settings change."""
    return {
        "metadata": {
            "labels": {**component_labels(plan, component), **plan.pod_labels},
            "annotations": {CONFIG_HASH_ANNOTATION: config_hash(plan)},
        },
        "spec": {
            "serviceAccountName": account_of(plan, component),
            "securityContext": POD_SECURITY,
            **spec,
            "volumes": [runtime_volume(plan), *spec.get("volumes", [])],
        },
    }
