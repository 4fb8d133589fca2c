"""The Kubernetes executor's pod template: each task it runs gets a pod made from it, an
Airflow worker like the worker Deployment's. It lives in a ConfigMap that the scheduler,
where the executor runs, mounts at [kubernetes_executor] pod_template_file."""

from __future__ import annotations

import posixpath

import yaml

from farflow.manifests.config_map import content_hash
from farflow.manifests.meta import metadata
from farflow.manifests.pod import bootstrapped, container, pod_template
from farflow.objects import POD_TEMPLATE_HASH_ANNOTATION, Manifest, Owner
from farflow.plan.model import Plan

COMPONENT = "kubernetes-executor"  # not "worker": the worker Deployment must not adopt them
CONTAINER = "base"  # the container the executor gives each task's command
VOLUME = "pod-template"


def executor_pod(plan: Plan) -> Manifest:
    """The Pod the executor starts each task from; it adds the name, namespace and command."""
    worker = plan.component("worker")
    if worker is None:
        raise ValueError("a plan always has a worker component")
    base = container(plan, CONTAINER, (), worker.size, worker.env)
    spec = bootstrapped(
        plan, {"restartPolicy": "Never", "containers": [base]}, worker.size, args_from_executor=True
    )
    template = pod_template(plan, COMPONENT, spec)
    return {"apiVersion": "v1", "kind": "Pod", **template}


def pod_template_config_maps(plan: Plan, owner: Owner) -> list[Manifest]:
    """The ConfigMap holding the executor's pod template; none without the executor."""
    if plan.pod_template_file is None:
        return []
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(plan, owner, plan.names.pod_template, COMPONENT),
            "data": {posixpath.basename(plan.pod_template_file): _pod_template_yaml(plan)},
        }
    ]


def mount_pod_template(plan: Plan, template: Manifest) -> Manifest:
    """The scheduler's pod ``template`` reading the executor's pod template at
    [kubernetes_executor] pod_template_file, and rolled whenever that changes."""
    if plan.pod_template_file is None:
        return template
    meta, spec = template["metadata"], template["spec"]
    mount = {
        "name": VOLUME,
        "mountPath": posixpath.dirname(plan.pod_template_file),
        "readOnly": True,
    }
    volume = {"name": VOLUME, "configMap": {"name": plan.names.pod_template}}
    annotations = {
        **meta["annotations"],
        POD_TEMPLATE_HASH_ANNOTATION: content_hash(_pod_template_yaml(plan)),
    }
    return {
        "metadata": {**meta, "annotations": annotations},
        "spec": {
            **spec,
            "containers": [
                {**c, "volumeMounts": [*c.get("volumeMounts", []), mount]}
                for c in spec["containers"]
            ],
            "volumes": [*spec.get("volumes", []), volume],
        },
    }


def _pod_template_yaml(plan: Plan) -> str:
    return yaml.safe_dump(executor_pod(plan), sort_keys=False)
