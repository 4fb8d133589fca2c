"""The migration Job: `airflow db migrate`, then the admin user. One Job per image, so a new
Airflow version or image gets a fresh migration before anything rolls."""

from __future__ import annotations

import hashlib

from farflow.manifests.meta import metadata
from farflow.manifests.pod import container, pod_template
from farflow.objects import Manifest, Owner
from farflow.plan.model import EnvVar, Plan, Size

MIGRATION_SIZE = Size(cpu="500m", memory="768Mi")  # a 0.5 vCPU / 1 GB Fargate pod


def migration_job_name(plan: Plan) -> str:
    digest = hashlib.sha256(plan.image.encode()).hexdigest()[:8]
    return plan.names.of(f"migrate-{digest}")


def migration_job(plan: Plan, owner: Owner) -> Manifest:
    password = EnvVar("FARFLOW_ADMIN_PASSWORD", secret=plan.admin_password)
    migrate = container(plan, "migrate", plan.migration_command, MIGRATION_SIZE, (password,))
    pod_spec = {"restartPolicy": "Never", "containers": [migrate]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(plan, owner, migration_job_name(plan), "migration"),
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 1800,
            "template": pod_template(plan, "migration", pod_spec),
        },
    }
