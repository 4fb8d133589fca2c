"""A Deployment per Airflow component."""

from __future__ import annotations

from farflow.manifests.executor_pod import mount_pod_template
from farflow.manifests.meta import component_selector, metadata
from farflow.manifests.pod import bootstrapped, container, pod_template, preflight, probe
from farflow.objects import SECRETS_HASH_ANNOTATION, Manifest, Owner
from farflow.plan.model import Component, Plan

ROLLING_UPDATE = {"maxUnavailable": 0, "maxSurge": "25%"}


def deployment(plan: Plan, owner: Owner, component: Component, secrets_hash: str = "") -> Manifest:
    """The component's Deployment; its pods roll when ``secrets_hash`` (of the data of the
    Secrets they read) changes, as they roll when the settings do."""
    main = container(
        plan,
        component.name,
        component.command,
        component.size,
        component.env,
        secrets=component.airflow,
    )
    if component.port is not None:
        main["ports"] = [{"name": "http", "containerPort": component.port, "protocol": "TCP"}]
    if component.probes is not None:
        main |= {kind: probe(check) for kind, check in component.probes.by_kind().items()}
    pod_spec: Manifest = {
        "terminationGracePeriodSeconds": component.termination_grace_seconds,
        "containers": [main],
    }
    if component.preflight:
        pod_spec["initContainers"] = [preflight(plan, component.size, component.env)]
    if component.airflow:
        pod_spec = bootstrapped(plan, pod_spec, component.size)
    template = pod_template(plan, component.name, pod_spec)
    if component.name == "scheduler":  # the Kubernetes executor runs in the scheduler
        template = mount_pod_template(plan, template)
    if secrets_hash:
        template["metadata"]["annotations"][SECRETS_HASH_ANNOTATION] = secrets_hash
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(plan, owner, plan.names.of(component.name), component.name),
        "spec": {
            "replicas": component.replicas,
            "revisionHistoryLimit": 5,
            # A new pod that cannot start (a requirement that does not install) leaves every
            # running one in place: none goes before its replacement is ready.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": ROLLING_UPDATE},
            "selector": {"matchLabels": component_selector(plan, component.name)},
            "template": template,
        },
    }
