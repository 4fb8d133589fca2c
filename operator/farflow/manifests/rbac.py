"""RoleBindings letting Airflow run task pods, and nothing more. FarFlow holds none of these
rights itself: the chart installs the two ClusterRoles below and lets the operator `bind`
exactly them (RBAC's escalation check), and each binding names only the components that
start pods: the scheduler for the Kubernetes executor, in the cluster's own namespace; the
workers and the triggerer for KubernetesPodOperator, in the task namespace once it admits
them (see farflow.tenancy). The API server, the DAG processor and the task pods get none."""

from __future__ import annotations

from dataclasses import dataclass

from farflow.manifests.meta import metadata
from farflow.objects import Manifest, Owner
from farflow.plan.model import ComponentName, Plan

EXECUTOR_ROLE = "farflow-kubernetes-executor"
POD_OPERATOR_ROLE = "farflow-pod-operator"
_TASK_PODS = [
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["create", "delete", "get", "list", "patch", "watch"],
    },
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
]
# KubernetesPodOperator reads XCom from a sidecar through exec; the executor never execs.
_EXEC = {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]}
CLUSTER_ROLE_RULES = {EXECUTOR_ROLE: _TASK_PODS, POD_OPERATOR_ROLE: [*_TASK_PODS, _EXEC]}


@dataclass(frozen=True)
class Binding:
    """A RoleBinding: components' service accounts bound to one of the ClusterRoles."""

    namespace: str
    name: str
    role: str
    components: tuple[ComponentName, ...]


def bindings(plan: Plan) -> list[Binding]:
    names, found = plan.names, []
    if plan.pod_template_file:
        executor = names.of("kubernetes-executor")
        found.append(Binding(names.namespace, executor, EXECUTOR_ROLE, ("scheduler",)))
    runners = tuple(c.name for c in plan.components if c.is_worker or c.name == "triggerer")
    if plan.tasks_allowed:
        name = names.in_task_namespace(plan.task_namespace, "pod-operator")
        found.append(Binding(plan.task_namespace, name, POD_OPERATOR_ROLE, runners))
    return found


def kubernetes_api_users(plan: Plan) -> set[ComponentName]:
    """The components that talk to the Kubernetes API: the others get no token at all."""
    return {component for binding in bindings(plan) for component in binding.components}


def rbac(plan: Plan, owner: Owner) -> list[Manifest]:
    return [_role_binding(plan, owner, binding) for binding in bindings(plan)]


def _role_binding(plan: Plan, owner: Owner, binding: Binding) -> Manifest:
    subjects = [
        {"kind": "ServiceAccount", "name": plan.names.of(c), "namespace": plan.names.namespace}
        for c in binding.components
    ]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata(plan, owner, binding.name, "rbac", binding.namespace),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": binding.role,
        },
        "subjects": subjects,
    }


def cluster_roles() -> list[Manifest]:
    """The ClusterRoles the bindings refer to, as the chart installs them."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "farflow"}},
            "rules": rules,
        }
        for name, rules in CLUSTER_ROLE_RULES.items()
    ]
