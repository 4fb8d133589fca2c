"""Deleting what FarFlow created in AWS for a cluster, as the spec's policies say.

Every delete function leaves alone what is not tagged as this cluster's (adopted resources)
and returns True once nothing of ours remains. Each part says first what it would remove, so
a deletion that skips AWS can tell the user exactly what it left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from farflow.api.names import AwsNames, QueueNames, dead_letter_queue_name, rds_names
from farflow.api.resolve import ResolvedCluster
from farflow.api.status import AwsStatus
from farflow.aws import ecs, eks, rds, s3, secrets
from farflow.aws.cloudwatch import remove_metrics
from farflow.aws.facts import metrics_target, region_of
from farflow.aws.logs import delete_log_group
from farflow.aws.sqs import delete_queues


@dataclass(frozen=True)
class _Part:
    what: Callable[[ResolvedCluster], str | None]  # what there is to remove, or None
    remove: Callable[[ResolvedCluster, str], bool]  # (cluster, region): True once gone


def remove_aws(cluster: ResolvedCluster) -> bool:
    """One pass of cleanup; True once every part is done."""
    region = region_of(cluster)
    done = [part.remove(cluster, region) for part in PARTS if part.what(cluster)]
    return all(done)  # every part ran, finished or not


def as_recorded(cluster: ResolvedCluster, recorded: AwsStatus | None) -> ResolvedCluster:
    """``cluster`` with the names of the AWS resources status recorded where they differ
    from what the spec names now: cleanup removes what was made, not what would be."""
    if recorded is None:
        return cluster
    names = cluster.aws_names
    rds = names.rds
    if rds is not None and recorded.database and recorded.database.instance:
        rds = rds_names(recorded.database.instance.rsplit(":db:", 1)[-1], cluster.uid)
    ecs = names.ecs
    if ecs is not None and recorded.ecs_cluster:
        ecs = replace(ecs, cluster=recorded.ecs_cluster.rsplit("/", 1)[-1])
    log_group = names.log_group
    if recorded.log_group_arn:
        log_group = recorded.log_group_arn.split(":log-group:", 1)[-1]
    queues = names.queues
    if recorded.queue_urls:
        sqs = {celery: url.rsplit("/", 1)[-1] for celery, url in recorded.queue_urls.items()}
        queues = tuple(QueueNames(c, q, dead_letter_queue_name(q)) for c, q in sqs.items())
    bucket = recorded.dag_bucket if names.dag_bucket and recorded.dag_bucket else names.dag_bucket
    recorded_names = replace(
        names, rds=rds, ecs=ecs, log_group=log_group, queues=queues, dag_bucket=bucket
    )
    return replace(cluster, aws_names=recorded_names)


def leftovers(cluster: ResolvedCluster) -> list[str]:
    """What remove_aws would remove, in words: what a skipped cleanup leaves in AWS."""
    return [what for part in PARTS if (what := part.what(cluster))]


def _ecs_what(cluster: ResolvedCluster) -> str | None:
    names = cluster.aws_names.ecs
    if names is None or cluster.spec.ecs is None:
        return None
    families = f"ECS task definitions {names.executor_family}, {names.task_family}"
    return (
        f"{families}, ECS cluster {names.cluster}" if cluster.spec.ecs.cluster.create else families
    )


def _remove_ecs(cluster: ResolvedCluster, region: str) -> bool:
    wanted, names, owner = cluster.spec.ecs, cluster.aws_names.ecs, cluster.aws_names.owner
    if wanted is None or names is None:
        return True
    tasks = ecs.delete_ecs(region, names.cluster, names.task_family, owner, False)
    executor = ecs.delete_ecs(
        region, names.cluster, names.executor_family, owner, wanted.cluster.create
    )
    return tasks and executor


def _profiles_what(cluster: ResolvedCluster) -> str | None:
    fargate = cluster.spec.fargate
    if not fargate.profile.create or fargate.cluster_name is None:
        return None
    return f"the Fargate profiles of EKS cluster {fargate.cluster_name} tagged as this cluster's"


def _remove_profiles(cluster: ResolvedCluster, region: str) -> bool:
    eks_cluster = cluster.spec.fargate.cluster_name or ""
    return eks.delete_fargate_profiles(region, eks_cluster, cluster.aws_names.owner)


def _database_what(cluster: ResolvedCluster) -> str | None:
    wanted, names = cluster.spec.database.rds, cluster.aws_names.rds
    if wanted is None or names is None or wanted.deletion_policy == "Retain":
        return None
    if wanted.deletion_policy == "Snapshot":
        return f"RDS instance {names.instance} (after a final snapshot {names.final_snapshot})"
    return f"RDS instance {names.instance}"


def _remove_database(cluster: ResolvedCluster, region: str) -> bool:
    wanted, names = cluster.spec.database.rds, cluster.aws_names
    if wanted is None or names.rds is None:
        return True
    return rds.delete_database(region, wanted, names.rds, names.owner, names.database_secret_id)


def _bucket_what(cluster: ResolvedCluster) -> str | None:
    dags, bucket = cluster.spec.dags.s3, cluster.aws_names.dag_bucket
    if dags is None or bucket is None or not dags.create:
        return None
    return f"S3 bucket {bucket} with every object version"


def _remove_bucket(cluster: ResolvedCluster, region: str) -> bool:
    bucket = cluster.aws_names.dag_bucket or ""
    return s3.delete_dag_bucket(region, bucket, cluster.aws_names.owner)


def _queues_what(cluster: ResolvedCluster) -> str | None:
    if not cluster.spec.broker.sqs.create:
        return None
    return "SQS queues " + ", ".join(queue.sqs for queue in cluster.aws_names.queues)


def _remove_queues(cluster: ResolvedCluster, region: str) -> bool:
    return delete_queues(region, cluster.aws_names.queues, cluster.aws_names.owner)


def _logs_what(cluster: ResolvedCluster) -> str | None:
    if not cluster.spec.logging.cloudwatch.enabled:
        return None
    return f"CloudWatch log group {cluster.aws_names.log_group}"


def _remove_logs(cluster: ResolvedCluster, region: str) -> bool:
    return delete_log_group(region, cluster.aws_names.log_group, cluster.aws_names.owner)


def _metrics_what(cluster: ResolvedCluster) -> str | None:
    if not cluster.spec.metrics.enabled:
        return None
    return (
        f"CloudWatch dashboard {cluster.aws_names.metrics} and alarms {cluster.aws_names.metrics}-*"
    )


def _remove_metrics(cluster: ResolvedCluster, region: str) -> bool:
    return remove_metrics(metrics_target(cluster, region))


def _secret(id_of: Callable[[AwsNames], str], made: Callable[[ResolvedCluster], bool]) -> _Part:
    """A Secrets Manager secret FarFlow makes for clusters that ``made`` holds for."""

    def what(cluster: ResolvedCluster) -> str | None:
        return f"Secrets Manager secret {id_of(cluster.aws_names)}" if made(cluster) else None

    def remove(cluster: ResolvedCluster, region: str) -> bool:
        names = cluster.aws_names
        return secrets.delete_secret(region, id_of(names), names.owner)

    return _Part(what, remove)


def _keys_go(cluster: ResolvedCluster) -> bool:
    """The shared keys go with the database: kept while it stays (the user's own, adopted,
    or kept by deletionPolicy), since its encrypted connections and variables need them."""
    rds = cluster.spec.database.rds
    return rds is not None and rds.create and rds.deletion_policy == "Delete"


PARTS = (
    _Part(_ecs_what, _remove_ecs),
    _secret(lambda names: names.executor_secret_id, lambda cluster: cluster.spec.ecs is not None),
    _Part(_profiles_what, _remove_profiles),
    _Part(_database_what, _remove_database),
    _Part(_bucket_what, _remove_bucket),
    _Part(_queues_what, _remove_queues),
    _Part(_logs_what, _remove_logs),
    _Part(_metrics_what, _remove_metrics),
    _secret(
        lambda names: names.admin_secret_id,
        lambda cluster: cluster.spec.admin.password_secret_ref is None,
    ),
    _secret(lambda names: names.keys_secret_id, _keys_go),
)
