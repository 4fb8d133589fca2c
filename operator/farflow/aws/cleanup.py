"""Deleting what FarFlow created in AWS for a cluster, as the spec's policies say.

Every delete function leaves alone what is not tagged as this cluster's (adopted resources)
and returns True once nothing of ours remains.
"""

from __future__ import annotations

from farflow.api import AirflowCluster
from farflow.api.spec import AirflowClusterSpec
from farflow.aws import ecs, eks, rds, s3, secrets
from farflow.aws.facts import Target, region_of
from farflow.aws.logs import delete_log_group
from farflow.aws.sqs import delete_queues, queue_names


def remove_aws(cluster: AirflowCluster, spec: AirflowClusterSpec) -> bool:
    """One pass of cleanup; True once every part is done."""
    target = Target.of(cluster, spec, region_of(spec))
    parts = (_ecs, _fargate_profiles, _database, _dag_bucket, _queues, _logs, _admin_password)
    done = [part(spec, target) for part in parts]  # every part runs, finished or not
    return all(done)


def _ecs(spec: AirflowClusterSpec, target: Target) -> bool:
    if spec.ecs is None:
        return True
    cluster = spec.ecs.cluster.name or target.named()
    create = spec.ecs.cluster.create
    tasks = ecs.delete_ecs(target.region, cluster, target.named("-task", 255), target.owner, False)
    executor = ecs.delete_ecs(
        target.region, cluster, target.named("-executor", 255), target.owner, create
    )
    return tasks and executor


def _fargate_profiles(spec: AirflowClusterSpec, target: Target) -> bool:
    if not spec.fargate.profile.create or spec.fargate.cluster_name is None:
        return True
    return eks.delete_fargate_profiles(target.region, spec.fargate.cluster_name, target.owner)


def _database(spec: AirflowClusterSpec, target: Target) -> bool:
    wanted = spec.database.rds
    if wanted is None:
        return True
    identifier = wanted.instance_identifier or rds.instance_identifier(
        target.namespace, target.name
    )
    return rds.delete_database(
        target.region, wanted, identifier, target.owner, target.secret_id("database")
    )


def _dag_bucket(spec: AirflowClusterSpec, target: Target) -> bool:
    dags = spec.dags.s3
    if dags is None or not dags.create:
        return True
    bucket = dags.bucket or s3.bucket_name(target.namespace, target.name)
    return s3.delete_dag_bucket(target.region, bucket, target.owner)


def _queues(spec: AirflowClusterSpec, target: Target) -> bool:
    if not spec.broker.sqs.create:
        return True
    names = queue_names(spec.broker.sqs, spec.workers.queues, target.namespace, target.name)
    return delete_queues(target.region, names.values(), target.owner)


def _logs(spec: AirflowClusterSpec, target: Target) -> bool:
    if not spec.logging.cloudwatch.enabled:
        return True
    return delete_log_group(target.region, target.log_group, target.owner)


def _admin_password(spec: AirflowClusterSpec, target: Target) -> bool:
    if spec.admin.password_secret_ref is not None:
        return True
    return secrets.delete_secret(target.region, target.secret_id("admin"), target.owner)
