"""A Role and RoleBinding letting Airflow run task pods, and nothing more: in the task
namespace (KubernetesPodOperator), and in the cluster's own namespace when the Kubernetes
executor starts its task pods there."""

from __future__ import annotations

from farflow.manifests.meta import metadata
from farflow.objects import Manifest, Owner
from farflow.plan.model import Plan

TASK_POD_RULES = [
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["create", "delete", "get", "list", "patch", "watch"],
    },
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get", "list"]},
    # KubernetesPodOperator reads XCom from a sidecar through exec.
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
]


def rbac(plan: Plan, owner: Owner) -> list[Manifest]:
    executor = [plan.names.namespace] if plan.pod_template_file else []
    namespaces = dict.fromkeys([*executor, plan.task_namespace])  # one Role per namespace
    return [manifest for ns in namespaces for manifest in _task_runner(plan, owner, ns)]


def _task_runner(plan: Plan, owner: Owner, namespace: str) -> list[Manifest]:
    name = plan.names.of("task-runner")
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata(plan, owner, name, "rbac", namespace),
        "rules": TASK_POD_RULES,
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata(plan, owner, name, "rbac", namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": plan.names.service_account,
                "namespace": plan.names.namespace,
            }
        ],
    }
    return [role, binding]
