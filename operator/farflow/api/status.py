"""The AirflowCluster status the operator writes: phase, conditions, URL and worker counts."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Phase = Literal[
    "Pending",
    "Provisioning",
    "Migrating",
    "Running",
    "Degraded",
    "Failed",
    "Suspended",
    "Deleting",
]
ConditionType = Literal[
    "AwsReady",
    "DatabaseReady",
    "BrokerReady",
    "FargateProfileReady",
    "TaskNamespaceReady",
    "PodLogsReady",
    "MigrationComplete",
    "ApiServerAvailable",
    "SchedulerAvailable",
    "WorkersAvailable",
    "Ready",
    "Reconciled",
    "Deleting",
    "DatabaseUpToDate",
    "AirflowObjectsSynced",
]


class StatusModel(BaseModel):
    """Base of the status blocks: camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class Condition(StatusModel):
    """One observed aspect of the cluster, in the Kubernetes condition convention."""

    # A reconcile observes conditions without a time; the status it writes gives each one its
    # lastTransitionTime (so required in the CRD), kept from before while its status holds.
    model_config = ConfigDict(
        json_schema_extra={"required": ["type", "status", "reason", "lastTransitionTime"]}
    )

    type: ConditionType = Field(description="What the condition is about.")
    status: Literal["True", "False", "Unknown"] = Field(description="Whether it holds.")
    reason: str = Field(max_length=1024, description="CamelCase reason for the status.")
    message: str = Field("", max_length=32768, description="Human-readable detail.")
    last_transition_time: str | None = Field(
        None,
        description="When the status last changed (RFC 3339).",
        json_schema_extra={"format": "date-time"},
    )
    observed_generation: int | None = Field(
        None, description="The spec generation the condition was computed from."
    )

    @classmethod
    def of(cls, kind: ConditionType, holds: bool, reason: str, message: str = "") -> Self:
        return cls(type=kind, status="True" if holds else "False", reason=reason, message=message)

    @property
    def holds(self) -> bool:
        return self.status == "True"


class PoolStatus(StatusModel):
    """One pool of Celery workers as observed."""

    desired: int = Field(0, description="Workers the Deployment asks for.")
    ready: int = Field(0, description="Workers ready to take tasks.")
    ready_of_desired: str = Field("0/0", description="ready/desired, for the Workers column.")
    waiting: int | None = Field(
        None, description="Tasks waiting in the SQS queues, at the autoscaler's last look."
    )
    running: int | None = Field(
        None, description="Tasks in flight (running, or reserved by a worker), at that look."
    )
    reason: str | None = Field(None, description="Why the autoscaler chose `desired`.")


class WorkersStatus(PoolStatus):
    """The Celery workers as observed: the default pool, and each named pool."""

    pools: dict[str, PoolStatus] = Field(
        default_factory=dict, description="Each named pool (spec.workers.pools) by name."
    )


class MigrationStatus(StatusModel):
    """The migration Job of the current inputs (image, database, admin)."""

    job: str = Field(description="Name of the migration Job.")
    attempts: int = Field(1, description="Times FarFlow has run it; a failed one runs again.")


class NamedState(StatusModel):
    """An AWS resource that takes a while to become usable."""

    name: str | None = Field(None, description="Its name or ARN.")
    instance: str | None = Field(None, description="The instance ARN.")
    status: str = Field(description="What AWS reports of it.")


class AwsStatus(StatusModel):
    """Identifiers of the AWS resources the cluster uses."""

    region: str | None = Field(None, description="AWS region.")
    queue_urls: dict[str, str] = Field(
        default_factory=dict, description="Celery queue -> SQS queue URL."
    )
    log_group_arn: str | None = Field(None, description="CloudWatch log group of the logs.")
    database: NamedState | None = Field(None, description="The RDS instance.")
    admin_secret: str | None = Field(None, description="Secrets Manager ARN of the admin password.")
    dag_bucket: str | None = Field(None, description="S3 bucket of the DAGs.")
    fargate_profile: NamedState | None = Field(None, description="The EKS Fargate profile.")
    ecs_cluster: str | None = Field(None, description="ARN of the ECS cluster.")
    metrics: str | None = Field(
        None, description="Name of the CloudWatch dashboard and prefix of the alarms made."
    )
    bootstrap_objects: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="The requirements, plugins and startup script objects that name no "
        "version, as the pods read them: s3://bucket/key -> its version, else its ETag.",
    )


class AirflowObjectsStatus(StatusModel):
    """The pools, variables and connections of spec.airflow FarFlow created in Airflow: it
    deletes only these when they leave the spec."""

    pools: list[str] = Field(default_factory=list, description="Pools FarFlow created.")
    variables: list[str] = Field(default_factory=list, description="Variables FarFlow created.")
    connections: list[str] = Field(default_factory=list, description="Connections FarFlow created.")
    written: dict[str, str] = Field(
        default_factory=dict,
        description="Per kind, a digest of the declared objects last written: a change of "
        "the spec or of a connection's secret writes them again.",
    )

    @property
    def created(self) -> bool:
        return bool(self.pools or self.variables or self.connections)


class AirflowClusterStatus(StatusModel):
    """What the operator observed of the cluster."""

    phase: Phase = Field("Pending", description="Summary of the cluster's state.")
    observed_generation: int | None = Field(
        None, description="The spec generation the status reflects."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Detailed state; Ready is True when the whole cluster serves; Reconciled "
        "says whether the operator's last pass got through, or the error that stopped it.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    api_server_url: str | None = Field(None, description="URL of the Airflow UI and API.")
    airflow_version: str | None = Field(None, description="Airflow version running.")
    workers: WorkersStatus = Field(default_factory=WorkersStatus, description="Celery workers.")
    migration: MigrationStatus | None = Field(None, description="The database migration.")
    aws: AwsStatus | None = Field(None, description="The AWS resources of the cluster.")
    airflow_objects: AirflowObjectsStatus | None = Field(
        None, description="The declared pools, variables and connections FarFlow created."
    )
