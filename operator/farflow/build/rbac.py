"""A Role and RoleBinding letting Airflow run task pods (KubernetesPodOperator and the
Kubernetes executor) in the task namespace, and nothing more."""

from __future__ import annotations

from farflow.build.meta import Manifest, Owner, metadata
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
    name = plan.names.of("task-runner")
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata(plan, owner, name, "rbac", plan.task_namespace),
        "rules": TASK_POD_RULES,
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata(plan, owner, name, "rbac", plan.task_namespace),
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
