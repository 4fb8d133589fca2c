"""Deleting what FarFlow created in AWS for a cluster, as the spec's policies say.

Every delete function leaves alone what is not tagged as this cluster's (adopted resources)
and returns True once nothing of ours remains.
"""

from __future__ import annotations

from farflow.api.resolve import ResolvedCluster
from farflow.aws import ecs, eks, rds, s3, secrets
from farflow.aws.facts import region_of
from farflow.aws.logs import delete_log_group
from farflow.aws.sqs import delete_queues


def remove_aws(cluster: ResolvedCluster) -> bool:
    """One pass of cleanup; True once every part is done."""
    region = region_of(cluster)
    parts = (_ecs, _fargate_profiles, _database, _dag_bucket, _queues, _logs, _admin_password)
    done = [part(cluster, region) for part in parts]  # every part runs, finished or not
    return all(done)


def _ecs(cluster: ResolvedCluster, region: str) -> bool:
    wanted, names, owner = cluster.spec.ecs, cluster.aws_names.ecs, cluster.aws_names.owner
    if wanted is None or names is None:
        return True
    tasks = ecs.delete_ecs(region, names.cluster, names.task_family, owner, False)
    executor = ecs.delete_ecs(
        region, names.cluster, names.executor_family, owner, wanted.cluster.create
    )
    return tasks and executor


def _fargate_profiles(cluster: ResolvedCluster, region: str) -> bool:
    fargate = cluster.spec.fargate
    if not fargate.profile.create or fargate.cluster_name is None:
        return True
    return eks.delete_fargate_profiles(region, fargate.cluster_name, cluster.aws_names.owner)


def _database(cluster: ResolvedCluster, region: str) -> bool:
    wanted, names = cluster.spec.database.rds, cluster.aws_names
    if wanted is None or names.rds is None:
        return True
    return rds.delete_database(region, wanted, names.rds, names.owner, names.database_secret_id)


def _dag_bucket(cluster: ResolvedCluster, region: str) -> bool:
    dags, bucket = cluster.spec.dags.s3, cluster.aws_names.dag_bucket
    if dags is None or bucket is None or not dags.create:
        return True
    return s3.delete_dag_bucket(region, bucket, cluster.aws_names.owner)


def _queues(cluster: ResolvedCluster, region: str) -> bool:
    if not cluster.spec.broker.sqs.create:
        return True
    return delete_queues(region, cluster.aws_names.queues, cluster.aws_names.owner)


def _logs(cluster: ResolvedCluster, region: str) -> bool:
    if not cluster.spec.logging.cloudwatch.enabled:
        return True
    return delete_log_group(region, cluster.aws_names.log_group, cluster.aws_names.owner)


def _admin_password(cluster: ResolvedCluster, region: str) -> bool:
    if cluster.spec.admin.password_secret_ref is not None:
        return True
    names = cluster.aws_names
    return secrets.delete_secret(region, names.admin_secret_id, names.owner)
