"""Security groups for the Airflow pods: EKS does not enforce NetworkPolicy on Fargate pods,
but it gives pods the security groups a SecurityGroupPolicy selects them for, so RDS can
admit the Airflow pods alone. The task pods (KubernetesPodOperator, the user's code) are not
selected: they carry the owner label, not an Airflow component's."""

from __future__ import annotations

from farflow.manifests.meta import metadata
from farflow.objects import COMPONENT_LABEL, OWNER_LABEL, Manifest, Owner, owner_value
from farflow.plan.model import Plan

API_VERSION, KIND = "vpcresources.k8s.aws/v1beta1", "SecurityGroupPolicy"
# Every pod that runs Airflow beside the components: the migration and the executor's pods.
OTHER_AIRFLOW_PODS = ("kubernetes-executor", "migration")


def security_group_policies(plan: Plan, owner: Owner) -> list[Manifest]:
    if not plan.pod_security_groups:
        return []
    names = plan.names
    selector = {
        "matchLabels": {OWNER_LABEL: owner_value(names.namespace, names.cluster)},
        "matchExpressions": [
            {"key": COMPONENT_LABEL, "operator": "In", "values": _airflow_pods(plan)}
        ],
    }
    return [
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": metadata(plan, owner, names.of("airflow-pods"), "security-groups"),
            "spec": {
                "podSelector": selector,
                "securityGroups": {"groupIds": list(plan.pod_security_groups)},
            },
        }
    ]


def _airflow_pods(plan: Plan) -> list[str]:
    """The component label of every pod that runs Airflow, worker pools included."""
    return sorted({*(c.name for c in plan.components), *OTHER_AIRFLOW_PODS})
