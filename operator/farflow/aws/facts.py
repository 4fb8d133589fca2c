"""What the operator learns from (and ensures in) AWS before planning a cluster."""

from __future__ import annotations

from farflow.api import AirflowCluster
from farflow.api.spec import AirflowClusterSpec
from farflow.aws.logs import ensure_log_group
from farflow.aws.session import AwsError, default_region, owner_tag
from farflow.aws.sqs import ensure_queues, queue_names
from farflow.plan.model import AwsFacts, SecretRef


def region_of(spec: AirflowClusterSpec) -> str:
    region = spec.aws.region or default_region()
    if region is None:
        raise AwsError("NoRegion", "set spec.aws.region, or AWS_REGION for the operator")
    return region


def database_secret(cluster: AirflowCluster, spec: AirflowClusterSpec) -> SecretRef:
    """The Secret key with the database URL: the user's, or the one FarFlow writes for RDS."""
    ref = spec.database.connection_secret_ref
    if ref is None:
        return SecretRef(f"{cluster.metadata.name}-database", "connection")
    return SecretRef(ref.name, ref.key)


def gather(cluster: AirflowCluster, spec: AirflowClusterSpec) -> AwsFacts:
    """Ensures the broker queues and log group exist and returns what the plan needs."""
    if spec.database.rds is not None:
        raise AwsError(
            "RdsNotAvailable",
            "this FarFlow version does not create RDS instances yet; point "
            "spec.database.connectionSecretRef at a Secret with the database URL",
        )
    meta = cluster.metadata
    region, owner = region_of(spec), owner_tag(meta.namespace, meta.name)
    names = queue_names(spec.broker.sqs, spec.workers.queues, meta.namespace, meta.name)
    cloudwatch = spec.logging.cloudwatch
    log_group_arn = None
    if cloudwatch.enabled and cloudwatch.log_group:
        log_group_arn = ensure_log_group(
            cloudwatch.log_group, cloudwatch.retention_days, region, owner
        )
    return AwsFacts(
        region=region,
        queue_urls=ensure_queues(spec.broker.sqs, names, region, owner),
        database_secret=database_secret(cluster, spec),
        log_group_arn=log_group_arn,
    )


def offline(cluster: AirflowCluster, spec: AirflowClusterSpec, account_id: str) -> AwsFacts:
    """The facts `gather` would report, derived without calling AWS (for `farflow render`)."""
    meta = cluster.metadata
    region = region_of(spec)
    names = queue_names(spec.broker.sqs, spec.workers.queues, meta.namespace, meta.name)
    cloudwatch = spec.logging.cloudwatch
    log_group_arn = None
    if cloudwatch.enabled and cloudwatch.log_group:
        log_group_arn = f"arn:aws:logs:{region}:{account_id}:log-group:{cloudwatch.log_group}"
    return AwsFacts(
        region=region,
        queue_urls={
            queue: f"https://sqs.{region}.amazonaws.com/{account_id}/{sqs_name}"
            for queue, sqs_name in names.items()
        },
        database_secret=database_secret(cluster, spec),
        log_group_arn=log_group_arn,
    )
