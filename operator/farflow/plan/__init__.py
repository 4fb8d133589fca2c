"""Pure planning: a resolved AirflowCluster plus what AWS reported -> what runs, and how."""

from __future__ import annotations

import json
import operator
import shlex
from dataclasses import replace
from functools import reduce

from farflow.api.names import SecretRef
from farflow.api.resolve import ResolvedCluster, ResolvedSpec
from farflow.api.spec import S3ObjectSpec
from farflow.plan.components import components
from farflow.plan.config import (
    API_PORT,
    airflow_config,
    git_env,
    in_cluster_service,
    pod_labels,
    pod_template_file,
    secret_env,
)
from farflow.plan.imports import required_modules
from farflow.plan.model import AwsFacts, Component, EnvVar, Plan, ServicePlan
from farflow.runtime import farflow_bootstrap

__all__ = ["AwsFacts", "Component", "EnvVar", "Plan", "SecretRef", "plan"]

NLB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
    # Fargate pods can only be NLB targets by IP.
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
}


def plan(cluster: ResolvedCluster, facts: AwsFacts, *, tasks_allowed: bool = True) -> Plan:
    """Everything that runs for ``cluster``; pure, so it is cheap to compute on every resync.
    ``tasks_allowed``: whether its task namespace admits its task pods."""
    spec, names = cluster.spec, cluster.names
    image = spec.airflow.image
    config = airflow_config(cluster, facts)
    return Plan(
        names=names,
        airflow_version=spec.airflow.version,
        image=image.reference,
        pull_policy=image.pull_policy,
        components=tuple(
            _with_user_env(c, spec) for c in components(spec, names, facts.queue_urls.values())
        ),
        config=config,
        secret_env=secret_env(cluster.database_secret, names),
        migration_command=_migration_command(spec),
        admin_password=admin_password(cluster),
        generate_admin_password=spec.admin.password_secret_ref is None,
        task_namespace=spec.pods.namespace,
        task_service_account=spec.pods.service_account_name,
        service_account_role_arn=spec.aws.service_account_role_arn,
        task_role_arn=spec.pods.service_account_role_arn,
        service=_service(cluster),
        pod_labels=pod_labels(names, facts),
        pod_security_groups=tuple(spec.network.pod_security_group_ids),
        tasks_allowed=tasks_allowed,
        suspended=spec.suspend,
        pod_template_file=pod_template_file(spec),
        required_modules=required_modules(config),
        bootstrap=_bootstrap(spec, facts.bootstrap_pins),
        startup_script=_s3_url(spec.airflow.startup_script),
    )


def _s3_url(ref: S3ObjectSpec | None) -> str | None:
    """The object as farflow_bootstrap names it in its messages."""
    return None if ref is None else farflow_bootstrap.url(ref.model_dump(exclude_none=True))


def _bootstrap(spec: ResolvedSpec, pins: dict[str, dict[str, str]]) -> str | None:
    """What farflow_bootstrap fetches and installs in every Airflow pod, as JSON, with the
    objects that name no version pinned as the operator found them; in the pod template, so
    a change of it (a new object version, a new upload) rolls the pods."""
    airflow = spec.airflow.model_dump(
        by_alias=True, exclude_none=True, include={"requirements", "plugins", "startup_script"}
    )
    for path, ref in spec.airflow.s3_objects().items():
        if ref.version is None:
            reduce(operator.getitem, path.split("."), airflow).update(pins.get(ref.url, {}))
    return json.dumps(airflow, sort_keys=True) if airflow else None


def admin_password(cluster: ResolvedCluster) -> SecretRef:
    """The Secret key of the admin's password: the user's, or the one FarFlow generates."""
    ref = cluster.spec.admin.password_secret_ref
    if ref is None:
        return SecretRef(cluster.names.admin_secret, "password")
    return SecretRef(ref.name, ref.key)


def _with_user_env(component: Component, spec: ResolvedSpec) -> Component:
    if not component.airflow:
        return component
    user_env = tuple(
        EnvVar(env.name, value=env.value)
        if env.value_from is None
        else EnvVar(env.name, secret=SecretRef(**env.value_from.secret_key_ref.model_dump()))
        for env in spec.airflow.env
    )
    return replace(component, env=(*git_env(spec), *component.env, *user_env))


def _migration_command(spec: ResolvedSpec) -> tuple[str, ...]:
    username = spec.admin.username
    email = username if "@" in username else f"{username}@example.com"
    create_admin = shlex.join(
        ["airflow", "users", "create", "--username", username, "--role", "Admin",
         "--firstname", "Airflow", "--lastname", "Admin", "--email", email]
    )  # fmt: skip
    # The password comes from the Job's environment and reaches `users create` on stdin (its
    # password prompt, twice): bash's printf is a builtin, so no process's argv (visible in
    # /proc/*/cmdline) ever holds it.
    password = 'printf "%s\\n%s\\n" "$FARFLOW_ADMIN_PASSWORD" "$FARFLOW_ADMIN_PASSWORD"'
    script = f"airflow db migrate && {password} | {create_admin}"
    return ("bash", "-c", script)


def _service(cluster: ResolvedCluster) -> ServicePlan:
    service = cluster.spec.api_server.service
    annotations: dict[str, str] = {}
    if service.type == "LoadBalancer":
        scheme = {"service.beta.kubernetes.io/aws-load-balancer-scheme": service.scheme}
        annotations = NLB_ANNOTATIONS | scheme
    if service.tls:
        annotations |= {
            "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": service.tls.certificate_arn,
            "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "https",
        }
    return ServicePlan(
        type=service.type,
        port=API_PORT,
        annotations=annotations | service.annotations,
        in_cluster=in_cluster_service(cluster.spec, cluster.names),
        tls=service.tls is not None,
        source_ranges=tuple(service.load_balancer_source_ranges),
    )
