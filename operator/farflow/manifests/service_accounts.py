"""ServiceAccounts: one for the Airflow components, one for task pods, both with IRSA."""

from __future__ import annotations

from farflow.manifests.meta import metadata
from farflow.objects import Manifest, Owner
from farflow.plan.model import Plan

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


def service_accounts(plan: Plan, owner: Owner) -> list[Manifest]:
    accounts = [
        _account(plan, owner, plan.names.service_account, None),
        _account(plan, owner, plan.task_service_account, plan.task_namespace),
    ]
    return accounts


def _account(plan: Plan, owner: Owner, name: str, namespace: str | None) -> Manifest:
    meta = metadata(plan, owner, name, "service-account", namespace)
    if plan.service_account_role_arn:
        meta["annotations"] = {IRSA_ANNOTATION: plan.service_account_role_arn}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
