"""The AirflowCluster spec: the typed model the CRD schema is generated from.

Field descriptions are what `kubectl explain airflowcluster.spec...` prints, so they are written
for the user. Defaults here are the defaults everywhere: the CRD carries the scalar ones, and
`farflow.api.parse` applies all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field

from farflow.api.rules import (
    Immutable,
    Rule,
    SpecModel,
    exactly_one_of,
    named_or_created,
    no_duplicates,
)
from farflow.api.timeouts import MARGIN_SECONDS
from farflow.api.types import (
    AcmCertificateArn,
    AirflowKey,
    AirflowVersion,
    AwsRegion,
    BucketName,
    Cidr,
    CloudWatchNamespace,
    CpuQuantity,
    EcsClusterName,
    EksClusterName,
    EnvVarName,
    GitRepository,
    HttpUrl,
    IamRoleArn,
    ImageDigest,
    ImageReference,
    ImageRepository,
    ImageTag,
    K8sName,
    KmsKeyArn,
    LogGroupName,
    MemoryQuantity,
    PoolName,
    QueueName,
    SecretNamePrefix,
    SecretsManagerArn,
    SecurityGroupId,
    SnsTopicArn,
    SubnetId,
)
from farflow.fargate import MAX_MEMORY_MIB, MAX_VCPU, OVERHEAD_MIB, parse_cpu, parse_memory_mib

DEFAULT_AIRFLOW_VERSION = "3.3.2"
DEFAULT_QUEUES = ("default",)
# FarFlow's Airflow image (airflow/Dockerfile), published by .github/workflows/release.yml as
# <FARFLOW_AIRFLOW_IMAGE>:<DEFAULT_AIRFLOW_VERSION>: it carries everything FarFlow renders.
FARFLOW_AIRFLOW_IMAGE = "ghcr.io/farflow/airflow"
# The timeouts of a task's life are derived from the longest task (farflow.api.timeouts).
DEFAULT_LONGEST_TASK_SECONDS = 3600
SQS_MAX_VISIBILITY_SECONDS = 43200
Executor = Literal["Celery", "Kubernetes", "Ecs"]
SizePreset = Literal["micro", "small", "medium", "large", "xlarge", "2xlarge"]

# Options FarFlow sets itself from the spec and its Secrets; a user value would fight them.
MANAGED_CONFIG = (
    "core.executor",
    "core.fernet_key",
    "core.execution_api_server_url",
    "database.sql_alchemy_conn",
    "api.secret_key",
    "api_auth.jwt_secret",
    "celery.broker_url",
    "celery.result_backend",
    # Derived from spec.airflow.longestTaskSeconds: see farflow.api.timeouts.
    "celery_broker_transport_options.visibility_timeout",
    "scheduler.task_queued_timeout",
    "scheduler.task_instance_heartbeat_timeout",
)
MAX_CONTAINER_MEMORY = f"{MAX_MEMORY_MIB - OVERHEAD_MIB}Mi"
_AS_SET = Field(json_schema_extra={"x-kubernetes-list-type": "set"})
Executors = Annotated[list[Executor], AfterValidator(no_duplicates), _AS_SET]
Queues = Annotated[list[QueueName], AfterValidator(no_duplicates), _AS_SET]
ConfigOptions = Annotated[
    dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=4096)]],
    Field(max_length=128),
]


class SecretKeySelector(SpecModel):
    """A key of a Secret in the AirflowCluster's namespace."""

    name: K8sName = Field(description="Name of the Secret.")
    key: str = Field(min_length=1, max_length=253, description="Key within the Secret.")


class DatabaseSecretRef(SecretKeySelector):
    """A Secret key holding an Airflow SQLAlchemy URL (postgresql+psycopg2://user:pass@host/db)."""

    key: str = Field(
        "connection", min_length=1, max_length=253, description="Key within the Secret."
    )


class PasswordSecretRef(SecretKeySelector):
    """A Secret key holding a password."""

    key: str = Field("password", min_length=1, max_length=253, description="Key within the Secret.")


class EnvVarSource(SpecModel):
    """Where an environment variable's value comes from."""

    secret_key_ref: SecretKeySelector = Field(description="A key of a Secret in this namespace.")


class EnvVar(SpecModel):
    """An extra environment variable for every Airflow container."""

    rules = (exactly_one_of("value", "valueFrom"),)

    name: EnvVarName = Field(description="Variable name.")
    value: str | None = Field(None, max_length=32768, description="Literal value.")
    value_from: EnvVarSource | None = Field(None, description="Value read from a Secret.")


class ImageSpec(SpecModel):
    """The Airflow container image every Airflow component runs."""

    repository: ImageRepository = Field(
        FARFLOW_AIRFLOW_IMAGE,
        description="Image repository. Defaults to FarFlow's image (airflow/Dockerfile: "
        "Airflow with the SQS transport, pycurl and every provider FarFlow uses); an image "
        "of your own must carry the same, or the workers' preflight names what it lacks.",
    )
    tag: ImageTag | None = Field(None, description="Image tag. Defaults to the Airflow version.")
    digest: ImageDigest | None = Field(
        None,
        description="Image digest (sha256:...). When set, every container and ECS task "
        "definition pulls repository@digest, and the tag only names it.",
    )
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        "IfNotPresent", description="Kubernetes image pull policy."
    )


def _compiles(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"is not a Python regular expression ({error})") from error
    return pattern


LookupPattern = Annotated[str, Field(max_length=1024), AfterValidator(_compiles)]
# The [secrets] options spec.airflow.secretsBackend writes.
SECRETS_BACKEND_CONFIG = ("secrets.backend", "secrets.backend_kwargs")


class SecretsBackendSpec(SpecModel):
    """Airflow's AWS Secrets Manager backend, as MWAA documents it: connections and
    variables are read from secrets named <prefix>/<id> before the metadata database."""

    connections_prefix: SecretNamePrefix | None = Field(
        None,
        description="Prefix of the connections' secret names (MWAA's examples use "
        "airflow/connections). Defaults to airflow/<namespace>/<name>/connections.",
    )
    variables_prefix: SecretNamePrefix | None = Field(
        None,
        description="Prefix of the variables' secret names (MWAA's examples use "
        "airflow/variables). Defaults to airflow/<namespace>/<name>/variables.",
    )
    connections_lookup_pattern: LookupPattern | None = Field(
        None,
        description="Python regular expression a connection id must match to be looked up in "
        "Secrets Manager; others go straight to the database. Default: every id.",
    )
    variables_lookup_pattern: LookupPattern | None = Field(
        None,
        description="Python regular expression a variable key must match to be looked up in "
        "Secrets Manager (each lookup is a billed request). Default: every key.",
    )


def _named_once(items: list[Any]) -> list[Any]:
    no_duplicates([item.name for item in items])
    return items


def _keyed_by_name(description: str) -> Any:
    """A list of objects with unique names, merged by name on a server-side apply."""
    schema: dict[str, Any] = {
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
    }
    return Field(
        default_factory=list, max_length=100, description=description, json_schema_extra=schema
    )


class PoolSpec(SpecModel):
    """An Airflow pool FarFlow keeps as declared."""

    name: AirflowKey = Field(description="Pool name (default_pool sets the default's slots).")
    slots: int = Field(ge=-1, le=100000, description="Task slots; -1 for unlimited.")
    description: str = Field("", max_length=1024, description="Shown in the UI.")
    include_deferred: bool = Field(False, description="Deferred tasks take a slot too.")


class VariableSpec(SpecModel):
    """An Airflow variable FarFlow keeps as declared (a literal: keep secrets in
    connections, or in Secrets Manager with secretsBackend)."""

    name: AirflowKey = Field(description="Variable key.")
    value: str = Field(max_length=32768, description="Value, as Variable.get returns it.")
    description: str = Field("", max_length=1024, description="Shown in the UI.")


class ConnectionSpec(SpecModel):
    """An Airflow connection FarFlow keeps as declared, read from a Kubernetes Secret or a
    Secrets Manager secret holding it in Airflow's JSON form ({"conn_type": ..., "host": ...,
    "login": ..., "password": ..., "port": ..., "schema": ..., "extra": {...}})."""

    rules = (exactly_one_of("secretKeyRef", "secretsManagerArn"),)

    name: AirflowKey = Field(description="Connection id.")
    secret_key_ref: SecretKeySelector | None = Field(
        None, description="A key of a Secret in this namespace holding the connection."
    )
    secrets_manager_arn: SecretsManagerArn | None = Field(
        None,
        description="A Secrets Manager secret holding the connection; its name must start "
        "with airflow/<namespace>/ (the operator reads it for this namespace only).",
    )
    description: str = Field("", max_length=1024, description="Shown in the UI.")


class S3ObjectSpec(SpecModel):
    """One object in S3, as MWAA names its requirements, plugins and startup script."""

    bucket: BucketName = Field(description="Bucket of the object (the Airflow role reads it).")
    key: str = Field(min_length=1, max_length=1024, description="Key of the object.")
    version: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="Object version (the bucket must be versioned). Set, a new upload takes "
        "effect when you change this field, which rolls the pods in order; unset, FarFlow "
        "pins the object as it finds it on each pass (its version, else its ETag), so a new "
        "upload rolls the pods in order, and a pod never reads one the others do not.",
    )

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class RequirementsSpec(SpecModel):
    """Python packages installed into every Airflow pod before its component starts."""

    rules = (exactly_one_of("s3", "packages"),)

    s3: S3ObjectSpec | None = Field(
        None,
        description="A requirements.txt in S3, in pip's format (it may name an index with "
        "--index-url or --find-links).",
    )
    packages: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        None,
        max_length=100,
        description="Requirement specifiers, such as apache-airflow-providers-slack==9.1.0.",
    )


Pools = Annotated[list[PoolSpec], AfterValidator(_named_once)]
Variables = Annotated[list[VariableSpec], AfterValidator(_named_once)]
Connections = Annotated[list[ConnectionSpec], AfterValidator(_named_once)]


def _sets_no_managed_option(config: dict[str, dict[str, str]]) -> bool:
    return not _sets_any(config, MANAGED_CONFIG)


def _sets_none_cel(keys: tuple[str, ...]) -> str:
    """CEL: no option of spec.airflow.config is one of ``keys`` (section.key)."""
    listed = ", ".join(f"'{key}'" for key in keys)
    return f"self.config.all(s, self.config[s].all(k, !((s + '.' + k) in [{listed}])))"


def _sets_any(config: dict[str, dict[str, str]], keys: tuple[str, ...]) -> bool:
    return any(f"{section}.{key}" in keys for section, options in config.items() for key in options)


def _celery_only() -> list[Executor]:
    return ["Celery"]


def _farflows_image_runs_its_version(airflow: AirflowSpec) -> bool:
    image = airflow.image
    own = image.repository == FARFLOW_AIRFLOW_IMAGE and image.tag is None
    return not own or airflow.version == DEFAULT_AIRFLOW_VERSION


class AirflowSpec(SpecModel):
    """Which Airflow runs, and how it is configured."""

    rules = (
        Rule(
            cel=f"!has(self.config) || {_sets_none_cel(MANAGED_CONFIG)}",
            message="config sets an option FarFlow manages ("
            + ", ".join(MANAGED_CONFIG)
            + "); use the matching spec field instead",
            holds=lambda airflow: _sets_no_managed_option(airflow.config),
            field_path=".config",
        ),
        Rule(
            cel="!has(self.secretsBackend) || !has(self.config) || "
            + _sets_none_cel(SECRETS_BACKEND_CONFIG),
            message="config sets secrets.backend or secrets.backend_kwargs, which "
            "secretsBackend writes: set one of the two",
            holds=lambda airflow: (
                airflow.secrets_backend is None
                or not _sets_any(airflow.config, SECRETS_BACKEND_CONFIG)
            ),
            field_path=".config",
        ),
        Rule(
            cel="!has(self.plugins) || !has(self.config) || "
            + _sets_none_cel(("core.plugins_folder",)),
            message="config sets core.plugins_folder, which plugins replaces: set one of the two",
            holds=lambda airflow: (
                airflow.plugins is None or not _sets_any(airflow.config, ("core.plugins_folder",))
            ),
            field_path=".config",
        ),
        Rule(
            cel=f"self.version == '{DEFAULT_AIRFLOW_VERSION}' || (has(self.image) && "
            f"(has(self.image.tag) || self.image.repository != '{FARFLOW_AIRFLOW_IMAGE}'))",
            message=f"FarFlow's image {FARFLOW_AIRFLOW_IMAGE} is built for Airflow "
            f"{DEFAULT_AIRFLOW_VERSION}: for another version set spec.airflow.image to an image "
            "of it (build airflow/Dockerfile with that version)",
            holds=_farflows_image_runs_its_version,
            field_path=".version",
        ),
        Rule(
            cel=f"self.longestTaskSeconds <= {SQS_MAX_VISIBILITY_SECONDS - MARGIN_SECONDS}",
            message=f"longestTaskSeconds must be at most "
            f"{SQS_MAX_VISIBILITY_SECONDS - MARGIN_SECONDS}: SQS hides a running task's "
            f"message for longestTaskSeconds + {MARGIN_SECONDS} s, and for at most "
            f"{SQS_MAX_VISIBILITY_SECONDS} s",
            holds=lambda airflow: (
                airflow.longest_task_seconds <= SQS_MAX_VISIBILITY_SECONDS - MARGIN_SECONDS
            ),
            field_path=".longestTaskSeconds",
        ),
    )

    version: AirflowVersion = Field(
        DEFAULT_AIRFLOW_VERSION, description="Airflow release, 3.x only."
    )
    image: ImageSpec = Field(default_factory=ImageSpec, description="Airflow container image.")
    config: dict[Annotated[str, Field(max_length=128)], ConfigOptions] = Field(
        default_factory=dict,
        max_length=64,
        description="airflow.cfg options as {section: {key: value}}, passed to every component "
        "as AIRFLOW__SECTION__KEY. Secrets do not belong here: use env with valueFrom.",
    )
    env: list[EnvVar] = Field(
        default_factory=list, max_length=64, description="Extra environment variables."
    )
    longest_task_seconds: int = Field(
        DEFAULT_LONGEST_TASK_SECONDS,
        ge=1,
        description="How long your longest task runs. FarFlow derives from it how long SQS "
        "hides a running task's message, how long a stopping worker may finish its tasks, "
        "how long a task may wait in the queue and when a silent task counts as lost.",
    )
    secrets_backend: SecretsBackendSpec | None = Field(
        None,
        description="Read connections and variables from AWS Secrets Manager first (the "
        "Airflow role needs secretsmanager:GetSecretValue on them: "
        "docs/iam-airflow-policy.json). Unset: the metadata database only.",
    )
    pools: Pools = _keyed_by_name(
        "Pools FarFlow creates and keeps as declared: one edited in Airflow is set back on "
        "the next resync, one removed from this list is deleted (only those FarFlow created)."
    )
    variables: Variables = _keyed_by_name(
        "Variables FarFlow creates and keeps as declared, like pools."
    )
    connections: Connections = _keyed_by_name(
        "Connections FarFlow creates and keeps as declared, like pools; never a literal "
        "password: each is read from a Secret or Secrets Manager."
    )
    requirements: RequirementsSpec | None = Field(
        None,
        description="Packages pip installs in every Airflow pod before its component starts, "
        "constrained to the versions the image has (nothing of the image is upgraded or "
        "replaced). Changing them rolls the pods; one that cannot be installed stops the "
        "rollout, the running pods stay.",
    )
    plugins: S3ObjectSpec | None = Field(
        None,
        description="A plugins.zip in S3, unpacked as the plugins folder of every Airflow pod "
        "(it replaces the image's /opt/airflow/plugins).",
    )
    startup_script: S3ObjectSpec | None = Field(
        None,
        description="A shell script every Airflow container sources before its component "
        "starts, as MWAA's startup script: what it exports, the component sees. One that "
        "fails stops the container, and with it the rollout.",
    )
    executors: Executors = Field(
        default_factory=_celery_only,
        min_length=1,
        max_length=3,
        description="Executors, in order; the first is the default and a task picks another "
        "with executor=. Celery runs tasks on the worker Deployment, Kubernetes in pods, Ecs as "
        "ECS Fargate tasks (needs spec.ecs).",
    )

    def s3_objects(self) -> dict[str, S3ObjectSpec]:
        """The requirements, plugins and startup script objects set, by their path under
        spec.airflow (as its JSON names them)."""
        found = {
            "requirements.s3": self.requirements.s3 if self.requirements else None,
            "plugins": self.plugins,
            "startupScript": self.startup_script,
        }
        return {path: ref for path, ref in found.items() if ref is not None}


class AwsSpec(SpecModel):
    """The AWS account and identity the cluster uses."""

    region: AwsRegion | None = Field(
        None, description="AWS region. Defaults to the operator's own region (AWS_REGION)."
    )
    service_account_role_arn: IamRoleArn | None = Field(
        None,
        description="IAM role the Airflow components assume through IRSA (the eks.amazonaws."
        "com/role-arn annotation of their service accounts); docs/iam-airflow-policy.json "
        "lists what it needs. Task pods never get it: see pods.serviceAccountRoleArn.",
    )
    kms_key_arn: KmsKeyArn | None = Field(
        None,
        description="Customer-managed KMS key for the SQS queues, the RDS instance, the DAG "
        "bucket, the Secrets Manager secrets and the log group; AWS-owned keys otherwise. Set "
        "at creation: an RDS instance's key cannot change.",
    )


class FargateProfileSpec(SpecModel):
    """The EKS Fargate profile the Airflow pods are scheduled through."""

    rules = (
        Rule(
            cel="!self.create || has(self.podExecutionRoleArn)",
            message="creating a Fargate profile needs podExecutionRoleArn",
            holds=lambda profile: not profile.create or profile.pod_execution_role_arn is not None,
            field_path=".podExecutionRoleArn",
        ),
    )

    create: bool = Field(
        False,
        description="Create the profile. When false, an existing profile must select this "
        "namespace and the label farflow.io/fargate: 'true'.",
    )
    name: str | None = Field(
        None,
        max_length=100,
        description="Profile name. Defaults to farflow-<namespace>-<name>.",
    )
    pod_execution_role_arn: IamRoleArn | None = Field(
        None, description="Pod execution role of the profile (required to create it)."
    )
    subnets: list[SubnetId] = Field(
        default_factory=list,
        max_length=16,
        description="Private subnets for the pods. Defaults to the EKS cluster's.",
    )


class FargateSpec(SpecModel):
    """EKS Fargate placement."""

    rules = (
        Rule(
            cel="!has(self.profile) || !self.profile.create || has(self.clusterName)",
            message="creating a Fargate profile needs clusterName, the EKS cluster to add it to",
            holds=lambda fargate: not fargate.profile.create or fargate.cluster_name is not None,
            field_path=".clusterName",
        ),
    )

    cluster_name: EksClusterName | None = Field(None, description="Name of the EKS cluster.")
    profile: FargateProfileSpec = Field(
        default_factory=FargateProfileSpec, description="The Fargate profile."
    )


class RdsSpec(SpecModel):
    """An Amazon RDS for PostgreSQL instance as the Airflow metadata database."""

    rules = (
        Rule(
            cel="!self.create || has(self.subnetGroupName) || "
            "(has(self.subnetIds) && size(self.subnetIds) > 0)",
            message="an RDS instance to create needs subnetGroupName or subnetIds",
            holds=lambda rds: not rds.create or rds.subnet_group_name is not None or rds.subnet_ids,
        ),
    )

    create: bool = Field(True, description="Create the instance; when false, adopt it by name.")
    master_password_secret: str | None = Field(
        None,
        max_length=2048,
        description="Adopted instance (create: false): the Secrets Manager secret (name or "
        "ARN, named airflow/<namespace>/...) with its master password, as a plain string or "
        "RDS's JSON with a password key. Defaults to the secret RDS manages for the instance.",
    )
    apply_immediately: bool = Field(
        False,
        description="Apply a changed instanceClass, allocatedStorage, multiAZ or engineVersion "
        "now rather than in the next maintenance window.",
    )
    instance_identifier: str | None = Field(
        None, max_length=63, description="Instance name. Defaults to farflow-<namespace>-<name>."
    )
    instance_class: str = Field(
        "db.t4g.medium",
        pattern="^db[.][a-z0-9]+[.][a-z0-9]+$",
        max_length=32,
        description="Instance class, such as db.t4g.medium or db.m7g.large. A change is "
        "applied in place (see applyImmediately).",
    )
    allocated_storage: int = Field(
        20, ge=20, le=65536, description="Storage in GiB; it can grow, never shrink."
    )
    engine_version: str = Field(
        "16",
        pattern="^[0-9]+([.][0-9]+)?$",
        max_length=8,
        description="PostgreSQL major (or major.minor) version.",
    )
    multi_az: bool = Field(False, alias="multiAZ", description="Run a standby in another AZ.")
    deletion_policy: Literal["Snapshot", "Retain", "Delete"] = Field(
        "Snapshot",
        description="What happens to the instance when the AirflowCluster is deleted: a final "
        "snapshot then deletion, nothing, or deletion without a snapshot.",
    )
    subnet_group_name: str | None = Field(
        None, max_length=255, description="Existing DB subnet group."
    )
    subnet_ids: list[SubnetId] = Field(
        default_factory=list, max_length=16, description="Subnets for a new DB subnet group."
    )
    security_group_ids: list[SecurityGroupId] = Field(
        default_factory=list, max_length=5, description="VPC security groups of the instance."
    )


class DatabaseSpec(SpecModel):
    """The Airflow metadata database: exactly one of rds or connectionSecretRef."""

    rules = (
        exactly_one_of(
            "rds",
            "connectionSecretRef",
            "set exactly one of rds (an RDS instance FarFlow manages) or "
            "connectionSecretRef (an existing database)",
        ),
    )

    rds: RdsSpec | None = Field(None, description="An RDS PostgreSQL instance.")
    connection_secret_ref: DatabaseSecretRef | None = Field(
        None, description="A Secret key with the SQLAlchemy URL of an existing PostgreSQL."
    )


class DeadLetterQueueSpec(SpecModel):
    """A dead-letter queue for messages no worker could process."""

    enabled: bool = Field(False, description="Create a dead-letter queue per queue.")
    max_receive_count: int = Field(
        5, ge=1, le=1000, description="Receives before a message moves to the dead-letter queue."
    )


class SqsSpec(SpecModel):
    """Amazon SQS as the Celery broker, one queue per worker queue."""

    rules = (
        Rule(
            cel="!has(self.visibilityTimeoutSeconds) || "
            f"self.visibilityTimeoutSeconds <= {SQS_MAX_VISIBILITY_SECONDS}",
            message=f"visibilityTimeoutSeconds must be at most {SQS_MAX_VISIBILITY_SECONDS} "
            "(the SQS maximum); leave it unset to derive it from spec.airflow.longestTaskSeconds",
            holds=lambda sqs: (
                sqs.visibility_timeout_seconds is None
                or sqs.visibility_timeout_seconds <= SQS_MAX_VISIBILITY_SECONDS
            ),
            field_path=".visibilityTimeoutSeconds",
        ),
    )

    create: bool = Field(True, description="Create the queues; when false they must exist.")
    queue_name_prefix: str | None = Field(
        None,
        pattern="^[A-Za-z0-9_-]{1,40}$",
        description="Prefix of the queue names. Defaults to farflow-<namespace>-<name>-.",
    )
    visibility_timeout_seconds: int | None = Field(
        None,
        ge=1,
        description="Seconds a task message stays hidden once a worker takes it; a task "
        "whose worker died is delivered again after it. Defaults to "
        f"spec.airflow.longestTaskSeconds + {MARGIN_SECONDS}; at least longestTaskSeconds, "
        "at most 43200 (SQS's maximum).",
    )
    dead_letter_queue: DeadLetterQueueSpec = Field(
        default_factory=DeadLetterQueueSpec, description="Dead-letter queue."
    )


class BrokerSpec(SpecModel):
    """The Celery broker."""

    sqs: SqsSpec = Field(default_factory=SqsSpec, description="Amazon SQS.")


class S3DagsSpec(SpecModel):
    """DAGs read from S3 through Airflow 3's S3 DAG bundle."""

    rules = (named_or_created("bucket", "bucket"),)

    bucket: BucketName | None = Field(
        None, description="Bucket name. Defaults to farflow-<namespace>-<name> when created."
    )
    create: bool = Field(False, description="Create the bucket (versioned, encrypted, private).")
    prefix: str = Field("dags/", max_length=1024, description="Key prefix of the DAG files.")


class GitDagsSpec(SpecModel):
    """DAGs read from a Git repository through Airflow 3's Git DAG bundle."""

    repo: GitRepository = Field(description="Repository URL.")
    ref: str = Field("main", min_length=1, max_length=255, description="Branch, tag or commit.")
    path: str = Field("", max_length=1024, description="Folder of the DAGs inside the repo.")
    credentials_secret_ref: K8sName | None = Field(
        None, description="Secret with 'username' and 'password' (a token) for a private repo."
    )
    refresh_interval_seconds: int = Field(
        300, ge=10, le=86400, description="How often the bundle pulls new commits."
    )


class ImageDagsSpec(SpecModel):
    """DAGs baked into the Airflow image."""

    path: str = Field(
        "/opt/airflow/dags", min_length=1, max_length=1024, description="DAG folder in the image."
    )


def _exactly_one_dag_source(dags: DagsSpec) -> bool:
    return sum(source is not None for source in (dags.s3, dags.git, dags.image)) == 1


class DagsSpec(SpecModel):
    """Where DAGs come from: exactly one of s3, git or image."""

    rules = (
        Rule(
            cel="[has(self.s3), has(self.git), has(self.image)].filter(x, x).size() == 1",
            message="set exactly one DAG source: s3, git or image",
            holds=_exactly_one_dag_source,
        ),
    )

    s3: S3DagsSpec | None = Field(None, description="S3 DAG bundle.")
    git: GitDagsSpec | None = Field(None, description="Git DAG bundle.")
    image: ImageDagsSpec | None = Field(None, description="DAGs baked into the image.")


def _fits_fargate_cpu(resources: Resources) -> bool:
    return parse_cpu(resources.cpu) <= MAX_VCPU


def _fits_fargate_memory(resources: Resources) -> bool:
    return parse_memory_mib(resources.memory) <= MAX_MEMORY_MIB - OVERHEAD_MIB


class Resources(SpecModel):
    """CPU and memory of a component's container; FarFlow rounds them up to a Fargate size."""

    rules = (
        Rule(
            cel="!isQuantity(self.cpu) || quantity(self.cpu).compareTo(quantity('16')) <= 0",
            message="cpu must be at most 16, the largest Fargate pod",
            holds=_fits_fargate_cpu,
            field_path=".cpu",
        ),
        Rule(
            cel="!isQuantity(self.memory) || "
            f"quantity(self.memory).compareTo(quantity('{MAX_CONTAINER_MEMORY}')) <= 0",
            message=f"memory must be at most {MAX_CONTAINER_MEMORY}: the largest Fargate pod "
            f"(120 GB) less the {OVERHEAD_MIB}Mi Fargate reserves",
            holds=_fits_fargate_memory,
            field_path=".memory",
        ),
    )

    cpu: CpuQuantity = Field(description="vCPU, such as 500m or 2.")
    memory: MemoryQuantity = Field(description="Memory, such as 1536Mi or 4Gi.")


class ComponentSpec(SpecModel):
    """An Airflow component Deployment."""

    replicas: int = Field(1, ge=1, le=10, description="Number of pods.")
    resources: Resources | None = Field(
        None, description="Container size. Defaults to the size preset's."
    )


class TlsSpec(SpecModel):
    """TLS for the API server, ended at the NLB with an ACM certificate."""

    certificate_arn: AcmCertificateArn = Field(
        description="ACM certificate of the UI's host name; the NLB serves HTTPS on 443 with it."
    )


def _open_to_the_internet(service: ServiceSpec) -> bool:
    return service.scheme == "internet-facing"


class ServiceSpec(SpecModel):
    """How the API server (the UI) is exposed."""

    rules = (
        Rule(
            cel="self.scheme != 'internet-facing' || has(self.tls)",
            message="an internet-facing API server needs tls.certificateArn: the UI, its login "
            "and the task execution API's tokens would otherwise cross the internet in clear",
            holds=lambda service: not _open_to_the_internet(service) or service.tls is not None,
            field_path=".tls",
        ),
        Rule(
            cel="self.scheme != 'internet-facing' || "
            "(has(self.loadBalancerSourceRanges) && size(self.loadBalancerSourceRanges) > 0)",
            message="an internet-facing API server needs loadBalancerSourceRanges, the "
            "addresses allowed to reach it (0.0.0.0/0 if that is really meant)",
            holds=lambda service: (
                not _open_to_the_internet(service) or bool(service.load_balancer_source_ranges)
            ),
            field_path=".loadBalancerSourceRanges",
        ),
    )

    type: Literal["LoadBalancer", "ClusterIP", "NodePort"] = Field(
        "LoadBalancer", description="Service type. LoadBalancer makes an NLB (IP targets)."
    )
    scheme: Literal["internal", "internet-facing"] = Field(
        "internal",
        description="NLB scheme: reachable inside the VPC only, or from the internet (which "
        "needs tls and loadBalancerSourceRanges).",
    )
    tls: TlsSpec | None = Field(
        None,
        description="HTTPS on 443 at the NLB, with an ACM certificate; status.apiServerUrl is "
        "then https://. In-cluster clients keep the Service <name>-api on 8080.",
    )
    load_balancer_source_ranges: list[Cidr] = Field(
        default_factory=list,
        max_length=32,
        description="CIDR blocks allowed to reach the NLB. Defaults to any.",
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, max_length=32, description="Extra Service annotations."
    )


class ApiServerSpec(ComponentSpec):
    """The Airflow API server: the UI, the REST API and the task execution API."""

    replicas: int = Field(2, ge=1, le=10, description="Number of pods.")
    service: ServiceSpec = Field(default_factory=ServiceSpec, description="The Service.")


class SchedulerSpec(ComponentSpec):
    """The Airflow scheduler; several replicas run active-active."""

    replicas: int = Field(2, ge=1, le=10, description="Number of pods.")


class TriggererSpec(ComponentSpec):
    """The Airflow triggerer, which runs deferred tasks."""

    enabled: bool = Field(True, description="Run a triggerer (needed by deferrable operators).")


class AutoscalingSpec(SpecModel):
    """Worker autoscaling on the Celery tasks waiting and in flight in the SQS queues."""

    enabled: bool = Field(
        True,
        description="Scale the workers between minReplicas and maxReplicas on queue depth. "
        "false: FarFlow sets the replicas only at creation and on resuming from suspend "
        "(minReplicas) and leaves them to you (an HPA, KEDA, kubectl scale).",
    )
    tasks_per_worker: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Tasks (waiting plus running) per worker. Defaults to the concurrency.",
    )
    scale_down_delay_seconds: int = Field(
        300,
        ge=0,
        le=86400,
        description="How long fewer workers must have been enough before a scale-down, "
        "which removes the workers running the fewest tasks first; theirs finish first.",
    )


class WorkerPoolSpec(SpecModel):
    """What every pool of Celery workers sets: its size, its bounds and its autoscaling."""

    rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="self.minReplicas <= self.maxReplicas",
            message="minReplicas must be less than or equal to maxReplicas",
            holds=lambda workers: workers.min_replicas <= workers.max_replicas,
            field_path=".minReplicas",
        ),
        Rule(
            cel="!has(self.concurrency) || !has(self.autoscaling) || "
            "!has(self.autoscaling.tasksPerWorker) || "
            "self.autoscaling.tasksPerWorker <= self.concurrency",
            message="autoscaling.tasksPerWorker must not exceed concurrency: a worker runs at "
            "most concurrency tasks, the rest would wait in the queue",
            holds=lambda workers: (
                workers.concurrency is None
                or workers.autoscaling.tasks_per_worker is None
                or workers.autoscaling.tasks_per_worker <= workers.concurrency
            ),
            field_path=".autoscaling.tasksPerWorker",
        ),
    )

    min_replicas: int = Field(1, ge=0, le=100, description="Fewest workers (0 scales to zero).")
    max_replicas: int = Field(10, ge=1, le=100, description="Most workers.")
    concurrency: int | None = Field(
        None, ge=1, le=256, description="Tasks one worker runs at once. Defaults to the preset's."
    )
    resources: Resources | None = Field(
        None, description="Container size, snapped to Fargate. Defaults to the size preset's."
    )
    autoscaling: AutoscalingSpec = Field(
        default_factory=AutoscalingSpec, description="Autoscaling."
    )


class NamedWorkerPoolSpec(WorkerPoolSpec):
    """A pool of workers of its own, for the tasks of its queues (a DAG's queue=)."""

    name: PoolName = Field(description="Pool name; its Deployment is <cluster>-worker-<name>.")
    queues: Queues = Field(
        min_length=1,
        max_length=16,
        description="Celery queues this pool's workers consume, each its own SQS queue; a "
        "queue belongs to one pool.",
    )


_DEFAULT_QUEUE_CEL = "(" + " || ".join(f"q == '{queue}'" for queue in DEFAULT_QUEUES) + ")"


def _queues_once(workers: WorkersSpec) -> bool:
    queues = workers.all_queues()
    return len(queues) == len(set(queues))


class WorkersSpec(WorkerPoolSpec):
    """The Celery workers: the default pool, and named pools beside it."""

    rules = (
        *WorkerPoolSpec.rules,
        Rule(
            cel="!has(self.pools) || self.pools.all(p, p.queues.all(q, "
            f"!(has(self.queues) ? q in self.queues : {_DEFAULT_QUEUE_CEL}) && "
            "self.pools.exists_one(o, q in o.queues)))",
            message="a queue belongs to one pool: each queue of pools[] must be in no other "
            "pool and not in workers.queues",
            holds=_queues_once,
            field_path=".pools",
        ),
    )

    queues: Queues = Field(
        default_factory=lambda: list(DEFAULT_QUEUES),
        min_length=1,
        max_length=16,
        description="Celery queues the default pool consumes; the first is the default queue "
        "of every task. Each becomes an SQS queue.",
    )
    termination_grace_period_seconds: int | None = Field(
        None,
        ge=30,
        le=43200,
        description="Time a stopping worker (of any pool) gets to finish its running tasks. "
        f"Defaults to spec.airflow.longestTaskSeconds + {MARGIN_SECONDS}; at least "
        "longestTaskSeconds.",
    )
    pools: Annotated[Sequence[NamedWorkerPoolSpec], AfterValidator(_named_once)] = Field(
        default_factory=list,
        max_length=8,
        description="Named pools beside the default one, each its own Deployment, size, "
        "bounds and autoscaling, for the tasks of its queues.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        },
    )

    def all_queues(self) -> list[str]:
        """Every queue of every pool, the default pool's first."""
        return [*self.queues, *(queue for pool in self.pools for queue in pool.queues)]


class EcsClusterSpec(SpecModel):
    """The ECS cluster ECS tasks run in."""

    rules = (named_or_created("name", "ECS cluster"),)

    name: EcsClusterName | None = Field(
        None, description="Cluster name. Defaults to farflow-<namespace>-<name> when created."
    )
    create: bool = Field(False, description="Create the cluster (Fargate capacity providers).")


class EcsSpec(SpecModel):
    """ECS on Fargate, for the Ecs executor and EcsRunTaskOperator DAGs."""

    cluster: EcsClusterSpec = Field(description="The ECS cluster.")
    subnets: list[SubnetId] = Field(
        min_length=1, max_length=16, description="Subnets of the tasks (awsvpc networking)."
    )
    security_group_ids: list[SecurityGroupId] = Field(
        default_factory=list, max_length=5, description="Security groups of the tasks."
    )
    task_role_arn: IamRoleArn | None = Field(None, description="Role the task's code assumes.")
    execution_role_arn: IamRoleArn = Field(
        description="Role ECS uses to pull the image and write awslogs."
    )
    assign_public_ip: bool = Field(False, description="Give tasks a public IP.")
    task_image: ImageReference | None = Field(
        None,
        description="Image EcsRunTaskOperator DAGs run (tasks/ecs_task), as repository:tag or "
        "repository@sha256:digest; FarFlow registers a task definition for it.",
    )
    task_resources: Resources | None = Field(
        None, description="Size of those tasks, snapped to Fargate. Defaults to 0.25 vCPU/0.5 GB."
    )
    api_server_url: HttpUrl | None = Field(
        None,
        description="Where the Ecs executor's tasks reach the Airflow API server (its "
        "execution API) from the ECS subnets, such as http://airflow.internal.example:8080. "
        "Defaults to the API server's load balancer (spec.apiServer.service.type "
        "LoadBalancer, an internal NLB) once it has an address.",
    )


class NetworkSpec(SpecModel):
    """Network access of the cluster's pods. NetworkPolicy is not enforced on Fargate pods;
    security groups for pods are."""

    pod_security_group_ids: list[SecurityGroupId] = Field(
        default_factory=list,
        max_length=5,
        description="Security groups for the Airflow pods (a SecurityGroupPolicy selecting "
        "them, not the task pods), so that RDS can admit only them.",
    )


class PodsSpec(SpecModel):
    """Where KubernetesPodOperator task pods run; Kubernetes-executor pods are Airflow workers
    and run in the AirflowCluster's namespace, beside the settings and Secrets they read."""

    namespace: K8sName | None = Field(
        None,
        description="Namespace of KubernetesPodOperator pods. Defaults to the AirflowCluster's. "
        "Another namespace must opt in with the label tasks-from.farflow.io/<this namespace>: "
        "'true'.",
    )
    service_account_name: K8sName | None = Field(
        None,
        description="Service account FarFlow creates for KubernetesPodOperator pods. Defaults "
        "to <name>-task (<namespace>.<name>-task in another namespace). FarFlow never adopts "
        "a service account it did not create.",
    )
    service_account_role_arn: IamRoleArn | None = Field(
        None,
        description="IAM role of the task pods (IRSA on their service account), for what the "
        "tasks' own code needs (docs/iam-task-policy.json is an example). Defaults to none.",
    )


class CloudWatchSpec(SpecModel):
    """Amazon CloudWatch Logs for pod logs (Fargate's Fluent Bit) and task logs."""

    enabled: bool = Field(True, description="Ship logs to CloudWatch.")
    log_group: LogGroupName | None = Field(
        None, description="Log group. Defaults to /farflow/<namespace>/<name>."
    )
    retention_days: Literal[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653
    ] = Field(30, description="Days CloudWatch keeps the logs.")


class LoggingSpec(SpecModel):
    """Where logs go."""

    cloudwatch: CloudWatchSpec = Field(default_factory=CloudWatchSpec, description="CloudWatch.")


class AlarmsSpec(SpecModel):
    """CloudWatch alarms on the cluster's metrics, notifying an SNS topic."""

    sns_topic_arn: SnsTopicArn = Field(
        description="SNS topic the alarms notify, when they fire and when they clear."
    )
    scheduler_heartbeat_missing_minutes: int = Field(
        5,
        ge=1,
        le=60,
        description="Alarm when no scheduler has heartbeat for this many minutes in a row.",
    )
    queue_backlog_minutes: int | None = Field(
        None,
        ge=1,
        le=1440,
        description="Alarm when tasks have waited in SQS for a worker at every sample for "
        "this many minutes in a row (the workers do not keep up). Defaults to no alarm.",
    )


def _not_an_aws_namespace(metrics: MetricsSpec) -> bool:
    return not metrics.namespace.startswith("AWS/")


class MetricsSpec(SpecModel):
    """Airflow's metrics (OpenTelemetry from every Airflow process) through a collector pod
    of the cluster, into CloudWatch and for Prometheus to scrape."""

    rules = (
        Rule(
            cel="!self.namespace.startsWith('AWS/')",
            message="cannot start with AWS/: CloudWatch keeps those for "
            "AWS's own services; choose another, such as FarFlow",
            holds=_not_an_aws_namespace,
            field_path=".namespace",
        ),
    )

    enabled: bool = Field(
        False,
        description="Run the metrics collector (one pod of 0.25 vCPU) and send Airflow's "
        "metrics to it. CloudWatch bills each metric it keeps: see docs/metrics.md.",
    )
    namespace: CloudWatchNamespace = Field(
        "FarFlow",
        description="CloudWatch namespace of the metrics; the dimension Cluster "
        "(<namespace>/<name>) tells the clusters in it apart.",
    )
    interval_seconds: int = Field(
        60,
        ge=10,
        le=300,
        description="Seconds between the collector's writes to CloudWatch (each a "
        "PutMetricData request per 500 points): the resolution of the metrics there.",
    )
    dashboard: bool = Field(
        True, description="Create a CloudWatch dashboard farflow-<namespace>-<name>."
    )
    alarms: AlarmsSpec | None = Field(None, description="CloudWatch alarms. Defaults to none.")


class AdminSpec(SpecModel):
    """The first Airflow admin user."""

    username: str = Field(
        "admin", pattern="^[A-Za-z0-9_.@-]{1,64}$", description="Login of the admin user."
    )
    password_secret_ref: PasswordSecretRef | None = Field(
        None,
        description="Secret with the admin password. When unset, FarFlow generates one and keeps "
        "it in the Secret <name>-admin and in AWS Secrets Manager.",
    )


MOVE = (
    "to change it, create a new AirflowCluster with the new value, move the metadata database "
    "and DAGs to it, then delete this one (its deletion policies decide what is kept)"
)


def _identity(path: str, why: str, **kwargs: Any) -> Immutable:
    """An identity of the cluster's AWS side: changing it would orphan what FarFlow made."""
    return Immutable(tuple(path.split(".")), f"spec.{path} cannot change: {why}; {MOVE}", **kwargs)


@dataclass(frozen=True)
class PoolQueuesKept(Immutable):
    """No queue of a worker pool goes away: it may move to another pool (or to the default
    pool's queues), its SQS queue stays the same."""

    def to_crd(self) -> dict[str, str]:
        # has() guards rather than defaults in ternaries: those lose the lists' bounds, and
        # the API server's cost estimate of the nested loops then exceeds its budget.
        workers = "has(self.workers) && has(self.workers.{})"
        kept = (
            f"({workers.format('queues')} ? q in self.workers.queues : {_DEFAULT_QUEUE_CEL}) || "
            f"({workers.format('pools')} && self.workers.pools.exists(n, q in n.queues))"
        )
        rule = (
            "!has(oldSelf.workers) || !has(oldSelf.workers.pools) || "
            f"oldSelf.workers.pools.all(p, p.queues.all(q, {kept}))"
        )
        return {"rule": rule, "message": self.message, "fieldPath": ".workers.pools"}

    def changed(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        return not set(_pool_queues(old)) <= set(_wire_queues(new))


def _pool_queues(spec: dict[str, Any]) -> list[str]:
    pools = (spec.get("workers") or {}).get("pools") or []
    return [queue for pool in pools for queue in pool.get("queues") or []]


def _wire_queues(spec: dict[str, Any]) -> list[str]:
    """Every queue of the spec ``spec`` (wire form), the default pool's included."""
    default = (spec.get("workers") or {}).get("queues") or list(DEFAULT_QUEUES)
    return [*default, *_pool_queues(spec)]


# What names the resources a cluster owns. Editing one would start Airflow on new, empty
# resources while the old ones keep running, never cleaned up.
IDENTITY = (
    _identity("aws.region", "every AWS resource of the cluster lives in its region"),
    Immutable(
        ("airflow", "version"),
        "spec.airflow.version cannot go back to an older Airflow: the metadata database was "
        "migrated to the newer version's schema, which the older one cannot read; to run an "
        "older Airflow, create a new AirflowCluster with a database restored from a snapshot "
        "taken before the upgrade",
        default=DEFAULT_AIRFLOW_VERSION,
        ascends=True,
    ),
    _identity(
        "aws.kmsKeyArn",
        "the RDS instance, secrets and log group keep the key they were created with",
    ),
    _identity(
        "database.rds",
        "switching between rds and connectionSecretRef starts Airflow on another, empty "
        "metadata database",
        presence=True,
    ),
    _identity(
        "database.rds.instanceIdentifier",
        "FarFlow would create a new, empty RDS instance and orphan the old one",
    ),
    _identity(
        "broker.sqs.queueNamePrefix",
        "FarFlow would create new queues and the tasks waiting in the old ones would be lost",
    ),
    _identity(
        "workers.queues",
        "a queue can be added but not removed, as its SQS queue and the tasks waiting in it "
        "would be orphaned",
        default=DEFAULT_QUEUES,
        grows=True,
    ),
    PoolQueuesKept(
        ("workers", "pools"),
        "spec.workers.pools cannot lose a queue: its SQS queue and the tasks waiting in it "
        f"would be orphaned; a queue can move to another pool; {MOVE}",
    ),
    _identity(
        "dags.s3.bucket",
        "the DAG bucket FarFlow made (and cleans up) would be left behind",
    ),
    _identity(
        "logging.cloudwatch.logGroup",
        "the task logs so far stay in the old group, which FarFlow would no longer clean up",
    ),
    _identity(
        "ecs.cluster.name",
        "the ECS cluster and task definitions FarFlow made would be orphaned",
    ),
    _identity(
        "fargate.clusterName",
        "the Fargate profiles FarFlow made live in that EKS cluster and would be orphaned",
    ),
)


def _ecs_block_if_ecs_executor(spec: AirflowClusterSpec) -> bool:
    return "Ecs" not in spec.airflow.executors or spec.ecs is not None


def _ecs_tasks_reach_the_api_server(spec: AirflowClusterSpec) -> bool:
    return (
        "Ecs" not in spec.airflow.executors
        or spec.api_server.service.type == "LoadBalancer"
        or (spec.ecs is not None and spec.ecs.api_server_url is not None)
    )


# The longest task in CEL: the API server fills the default only inside a given `airflow`.
_LONGEST_TASK_CEL = (
    "(has(self.airflow) && has(self.airflow.longestTaskSeconds) ? "
    f"self.airflow.longestTaskSeconds : {DEFAULT_LONGEST_TASK_SECONDS})"
)


def _outlasts_the_longest_task(
    cel_path: str, value: Callable[[AirflowClusterSpec], int | None], what: str
) -> Rule:
    """An explicit timeout (``cel_path`` under spec, each part optional) must not cut the
    longest task short."""
    parts = cel_path.split(".")
    present = " && ".join(f"has(self.{'.'.join(parts[: i + 1])})" for i in range(len(parts)))
    return Rule(
        cel=f"!({present}) || self.{cel_path} >= {_LONGEST_TASK_CEL}",
        message=f"{parts[-1]} must be at least spec.airflow.longestTaskSeconds: {what}; "
        "leave it unset to derive it",
        holds=lambda spec: (
            (seconds := value(spec)) is None or seconds >= spec.airflow.longest_task_seconds
        ),
        field_path=f".{cel_path}",
    )


class AirflowClusterSpec(SpecModel):
    """An Airflow 3 deployment on EKS Fargate."""

    rules = (
        Rule(
            cel="!has(self.airflow) || !has(self.airflow.executors) || "
            "!self.airflow.executors.exists(e, e == 'Ecs') || has(self.ecs)",
            message="the Ecs executor needs spec.ecs (cluster, subnets, executionRoleArn)",
            holds=_ecs_block_if_ecs_executor,
        ),
        Rule(
            cel="!has(self.airflow) || !has(self.airflow.executors) || "
            "!self.airflow.executors.exists(e, e == 'Ecs') || !has(self.apiServer) || "
            "!has(self.apiServer.service) || self.apiServer.service.type == 'LoadBalancer' || "
            "(has(self.ecs) && has(self.ecs.apiServerUrl))",
            message="the Ecs executor's tasks run outside the cluster and must reach the API "
            "server: set spec.ecs.apiServerUrl, or keep spec.apiServer.service.type "
            "LoadBalancer (an internal NLB)",
            holds=_ecs_tasks_reach_the_api_server,
            field_path=".ecs",
        ),
        _outlasts_the_longest_task(
            "broker.sqs.visibilityTimeoutSeconds",
            lambda spec: spec.broker.sqs.visibility_timeout_seconds,
            "SQS would hand a running task to a second worker",
        ),
        _outlasts_the_longest_task(
            "workers.terminationGracePeriodSeconds",
            lambda spec: spec.workers.termination_grace_period_seconds,
            "a stopping worker would be killed before its tasks finish",
        ),
    )
    immutable = IDENTITY

    airflow: AirflowSpec = Field(default_factory=AirflowSpec, description="Airflow itself.")
    size: SizePreset = Field(
        "small",
        description="Size preset, like MWAA's environment classes: sets every component's "
        "Fargate size and the worker concurrency. Explicit resources win.",
    )
    aws: AwsSpec = Field(default_factory=AwsSpec, description="AWS account and identity.")
    fargate: FargateSpec = Field(default_factory=FargateSpec, description="EKS Fargate.")
    database: DatabaseSpec = Field(description="The metadata database.")
    broker: BrokerSpec = Field(default_factory=BrokerSpec, description="The Celery broker.")
    dags: DagsSpec = Field(
        default_factory=lambda: DagsSpec(image=ImageDagsSpec()),
        description="Where DAGs come from. Defaults to the image.",
    )
    api_server: ApiServerSpec = Field(default_factory=ApiServerSpec, description="API server.")
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec, description="Scheduler.")
    dag_processor: ComponentSpec = Field(
        default_factory=ComponentSpec, description="DAG processor, which parses DAG files."
    )
    triggerer: TriggererSpec = Field(default_factory=TriggererSpec, description="Triggerer.")
    workers: WorkersSpec = Field(default_factory=WorkersSpec, description="Celery workers.")
    ecs: EcsSpec | None = Field(None, description="ECS on Fargate; required by the Ecs executor.")
    pods: PodsSpec = Field(default_factory=PodsSpec, description="KubernetesPodOperator task pods.")
    network: NetworkSpec = Field(default_factory=NetworkSpec, description="Pod networking.")
    logging: LoggingSpec = Field(default_factory=LoggingSpec, description="Logging.")
    metrics: MetricsSpec = Field(default_factory=MetricsSpec, description="Metrics.")
    admin: AdminSpec = Field(default_factory=AdminSpec, description="The admin user.")
    suspend: bool = Field(
        False, description="Scale every component to zero; the database and queues stay."
    )
