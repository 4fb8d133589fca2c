"""Pure builders: a plan -> the Kubernetes manifests of one AirflowCluster, in apply order."""

from __future__ import annotations

from collections.abc import Mapping

from farflow.manifests.config_map import config_map
from farflow.manifests.deployments import deployment
from farflow.manifests.disruption import disruption_budget
from farflow.manifests.executor_pod import pod_template_config_maps
from farflow.manifests.job import migration_job, migration_job_name
from farflow.manifests.meta import prune_selectors
from farflow.manifests.network_policy import network_policy
from farflow.manifests.rbac import rbac
from farflow.manifests.runtime import runtime_config_map
from farflow.manifests.secrets import mirrored_secret
from farflow.manifests.security_groups import security_group_policies
from farflow.manifests.service import services
from farflow.manifests.service_accounts import service_accounts
from farflow.objects import Manifest, Owner
from farflow.plan.model import Plan

__all__ = ["manifests", "migration_job_name", "prune_selectors"]


def manifests(
    plan: Plan,
    owner: Owner,
    mirrored: Mapping[str, Mapping[str, str]],
    secrets_hash: str = "",
) -> list[Manifest]:
    """Every object of the cluster, in the order they must be applied.

    ``mirrored`` are Secrets whose values AWS keeps (Secret name -> key -> value);
    ``secrets_hash`` changes with the data of any Secret the pods read, and rolls them.
    """
    ordered = sorted(plan.components, key=lambda c: c.rollout_stage)
    return [
        # Identities first: pods and bindings name them.
        *service_accounts(plan, owner),
        *rbac(plan, owner),
        # What the containers read at start: Secrets and settings.
        *(mirrored_secret(plan, owner, name, dict(values)) for name, values in mirrored.items()),
        config_map(plan, owner),
        runtime_config_map(plan, owner),
        *pod_template_config_maps(plan, owner),
        # Networking and disruption rules, ready before any pod exists.
        *services(plan, owner),
        network_policy(plan, owner),
        *security_group_policies(plan, owner),
        *(disruption_budget(plan, owner, c) for c in ordered),
        # The schema migration must finish before any component (re)starts...
        migration_job(plan, owner),
        # ...then components roll by stage: API server, scheduling, workers.
        *(deployment(plan, owner, c, secrets_hash) for c in ordered),
    ]
