"""ServiceAccounts: one per component, so each gets only what it needs (see
farflow.manifests.rbac), one for the migration Job, and one for the task pods. The
components carry the Airflow role (IRSA), the task pods their own; the migration needs
none, and what does not talk to the Kubernetes API gets no token."""

from __future__ import annotations

from farflow.manifests.meta import metadata
from farflow.manifests.rbac import kubernetes_api_users
from farflow.objects import Manifest, Owner
from farflow.plan.model import Plan

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
MIGRATION = "migration"
# Pods whose service account is another component's: the Kubernetes executor's task pods are
# Airflow workers.
RUNS_AS = {"kubernetes-executor": "worker"}


def account_of(plan: Plan, component: str) -> str:
    """The service account a pod of ``component`` runs as."""
    return plan.names.of(RUNS_AS.get(component, component))


def service_accounts(plan: Plan, owner: Owner) -> list[Manifest]:
    users = kubernetes_api_users(plan)
    role = plan.service_account_role_arn
    accounts = [
        _account(plan, owner, plan.names.of(c.name), role_arn=role, token=c.name in users)
        for c in plan.components
    ]
    accounts.append(_account(plan, owner, plan.names.of(MIGRATION), role_arn=None, token=False))
    if plan.tasks_allowed:
        task_pods = {"role_arn": plan.task_role_arn, "namespace": plan.task_namespace}
        accounts.append(_account(plan, owner, plan.task_service_account, token=True, **task_pods))
    return accounts


def _account(
    plan: Plan,
    owner: Owner,
    name: str,
    *,
    role_arn: str | None,
    token: bool,
    namespace: str | None = None,
) -> Manifest:
    meta = metadata(plan, owner, name, "service-account", namespace)
    if role_arn:
        meta["annotations"] = {IRSA_ANNOTATION: role_arn}
    account: Manifest = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
    if not token:
        account["automountServiceAccountToken"] = False
    return account
