"""Security groups for the Airflow pods: EKS does not enforce NetworkPolicy on Fargate pods,
but it gives pods the security groups a SecurityGroupPolicy selects them for, so RDS can
admit the Airflow pods alone. The task pods (KubernetesPodOperator, the user's code) are not
selected: they carry the owner label, not an Airflow component's."""

from __future__ import annotations

from farflow.manifests.meta import metadata
from farflow.objects import OWNER_LABEL, Manifest, Owner, owner_value
from farflow.plan.model import Plan

API_VERSION, KIND = "vpcresources.k8s.aws/v1beta1", "SecurityGroupPolicy"
COMPONENT_LABEL = "app.kubernetes.io/component"
# Every pod that runs Airflow: the components, the migration and the executor's task pods.
AIRFLOW_PODS = ("api-server", "dag-processor", "kubernetes-executor", "migration", "scheduler",
                "triggerer", "worker")  # fmt: skip


def security_group_policies(plan: Plan, owner: Owner) -> list[Manifest]:
    if not plan.pod_security_groups:
        return []
    names = plan.names
    selector = {
        "matchLabels": {OWNER_LABEL: owner_value(names.namespace, names.cluster)},
        "matchExpressions": [
            {"key": COMPONENT_LABEL, "operator": "In", "values": list(AIRFLOW_PODS)}
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
