"""The migration Job: `airflow db migrate`, then the admin user. One Job per set of inputs
(the image, the database, the admin user), so a new Airflow version, another database or
another admin gets a fresh migration before anything rolls."""

from __future__ import annotations

from dataclasses import astuple

from farflow.manifests.config_map import content_hash
from farflow.manifests.meta import metadata
from farflow.manifests.pod import container, pod_template, preflight
from farflow.objects import Manifest, Owner
from farflow.plan.model import EnvVar, Plan, Size

MIGRATION_SIZE = Size(cpu="500m", memory="768Mi")  # a 0.5 vCPU / 1 GB Fargate pod


def migration_job_name(plan: Plan) -> str:
    inputs = [plan.image, *plan.migration_command, *astuple(plan.admin_password)]
    inputs += [astuple(env.secret) for env in plan.secret_env if env.secret is not None]
    return plan.names.of(f"migrate-{content_hash(inputs)[:8]}")


def migration_job(plan: Plan, owner: Owner) -> Manifest:
    password = EnvVar("FARFLOW_ADMIN_PASSWORD", secret=plan.admin_password)
    migrate = container(plan, "migrate", plan.migration_command, MIGRATION_SIZE, (password,))
    # A new image that lacks a module fails here, before any Deployment rolls onto it.
    pod_spec = {
        "restartPolicy": "Never",
        "initContainers": [preflight(plan, MIGRATION_SIZE, ())],
        "containers": [migrate],
    }
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
