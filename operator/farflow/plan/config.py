"""The Airflow 3 configuration of a cluster, as AIRFLOW__SECTION__KEY environment variables.

Only non-secret values are returned as literals; the database URL and the shared keys are
read from Secrets by every container (see `secret_env`).
"""

from __future__ import annotations

import base64
import json
import secrets

from farflow.api.names import KubeNames, SecretRef
from farflow.api.resolve import ResolvedCluster, ResolvedSpec
from farflow.api.spec import DagsSpec, Executor
from farflow.objects import PROFILE_LABEL, fargate_labels
from farflow.plan.model import AwsFacts, EcsFacts, EnvVar
from farflow.runtime import BOOTSTRAP_PLUGINS, BOOTSTRAP_PYTHON, RUNTIME_DIR

API_PORT = 8080
SCHEDULER_HEALTH_PORT = 8974
WORKER_LOG_PORT = 8793
# farflow_metrics: OTLP/HTTP in (POST /v1/metrics), Prometheus out (GET /metrics).
METRICS_PORT = 4318
GIT_CONN_ID = "farflow_git"
# Mounted into the scheduler, where the Kubernetes executor runs, from a ConfigMap.
POD_TEMPLATE_FILE = "/opt/airflow/pod_templates/pod_template.yaml"

EXECUTOR_CLASSES: dict[Executor, str] = {
    "Celery": "CeleryExecutor",
    "Kubernetes": "KubernetesExecutor",
    "Ecs": "airflow.providers.amazon.aws.executors.ecs.ecs_executor.AwsEcsExecutor",
}
SECRETS_MANAGER_BACKEND = (
    "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
)
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"

# Keys of the Secret of the keys every component shares (FarFlow keeps them in AWS).
FERNET_KEY, JWT_SECRET, API_SECRET_KEY = "fernet-key", "jwt-secret", "api-secret-key"
SHARED_KEYS = (FERNET_KEY, JWT_SECRET, API_SECRET_KEY)


def new_shared_keys() -> dict[str, str]:
    """Fresh keys for a new cluster; a Fernet key is 32 url-safe base64-encoded bytes."""
    fernet = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return {
        FERNET_KEY: fernet,
        JWT_SECRET: secrets.token_urlsafe(32),
        API_SECRET_KEY: secrets.token_urlsafe(32),
    }


def env_name(section: str, key: str) -> str:
    """Airflow's environment variable for an airflow.cfg option."""
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def airflow_config(cluster: ResolvedCluster, facts: AwsFacts) -> dict[str, str]:
    """Every non-secret setting, user options last so they win over FarFlow's defaults."""
    spec, names = cluster.spec, cluster.names
    options = {
        **_core(spec, names),
        **_timeouts(spec),
        **_latency(),
        **_celery(spec, facts),
        **_logging(facts),
        **_dag_bundles(spec.dags, cluster.aws_names.dag_bucket),
        **_ecs_executor(spec, facts),
        **_kubernetes_executor(spec, names),
        **_secrets_backend(spec, facts.region),
        **_plugins(spec),
        **_metrics(spec),
    }
    for section, entries in spec.airflow.config.items():
        options.update({(section, key): value for key, value in entries.items()})
    config = {env_name(section, key): value for (section, key), value in options.items()}
    kubernetes = _kubernetes_environment(spec, pod_labels(names, facts))
    return {
        **config,
        **_aws_environment(facts),
        **kubernetes,
        **_metrics_environment(spec, names),
        "PYTHONPATH": _python_path(spec),
    }


def _metrics(spec: ResolvedSpec) -> Options:
    """Airflow's OpenTelemetry metrics, without the legacy names that carry a DAG's and a
    task's id in the metric's name (each would be a metric CloudWatch bills)."""
    if not spec.metrics.enabled:
        return {}
    return {("metrics", "otel_on"): "True", ("metrics", "legacy_names_on"): "False"}


def _metrics_endpoint(names: KubeNames) -> str:
    """Where Airflow's processes push their metrics: the collector's Service."""
    host = f"{names.of('metrics')}.{names.namespace}.svc.cluster.local"
    return f"http://{host}:{METRICS_PORT}/v1/metrics"


def _metrics_environment(spec: ResolvedSpec, names: KubeNames) -> dict[str, str]:
    """The exporter's settings (OpenTelemetry's variables: Airflow's [metrics] otel_host and
    otel_port are deprecated). A push over HTTP in the background, so a collector that is
    down costs Airflow only the lost points. Every 10 s, so each of the collector's writes
    (a minute by default) holds several; counters and histograms as deltas, since every
    Airflow process has the same OTel resource and running totals could not be told apart."""
    if not spec.metrics.enabled:
        return {}
    return {
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": _metrics_endpoint(names),
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
        "OTEL_METRIC_EXPORT_INTERVAL": str(min(10, spec.metrics.interval_seconds) * 1000),
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
    }


def _python_path(spec: ResolvedSpec) -> str:
    """farflow.runtime's modules (probes, heartbeat), from the ConfigMap mounted there; and
    spec.airflow.requirements, where farflow_bootstrap installs them."""
    return f"{BOOTSTRAP_PYTHON}:{RUNTIME_DIR}" if spec.airflow.requirements else RUNTIME_DIR


def _plugins(spec: ResolvedSpec) -> dict[tuple[str, str], str]:
    """spec.airflow.plugins, where farflow_bootstrap unpacks them, as the plugins folder."""
    return {("core", "plugins_folder"): BOOTSTRAP_PLUGINS} if spec.airflow.plugins else {}


def pod_template_file(spec: ResolvedSpec) -> str | None:
    """Where the Kubernetes executor reads its task pods' template; None without it."""
    return POD_TEMPLATE_FILE if "Kubernetes" in spec.airflow.executors else None


def secret_env(database: SecretRef, names: KubeNames) -> tuple[EnvVar, ...]:
    """Settings every Airflow container reads from Secrets, never from literals."""
    shared = names.secrets
    return (
        EnvVar(env_name("database", "sql_alchemy_conn"), secret=database),
        EnvVar(env_name("core", "fernet_key"), secret=SecretRef(shared, FERNET_KEY)),
        EnvVar(env_name("api_auth", "jwt_secret"), secret=SecretRef(shared, JWT_SECRET)),
        EnvVar(env_name("api", "secret_key"), secret=SecretRef(shared, API_SECRET_KEY)),
    )


def git_env(spec: ResolvedSpec) -> tuple[EnvVar, ...]:
    """The Git connection of a Git DAG bundle; credentials are expanded from Secret keys."""
    git = spec.dags.git
    if git is None:
        return ()
    connection: dict[str, object] = {"conn_type": "git", "host": git.repo}
    credentials: tuple[EnvVar, ...] = ()
    if git.credentials_secret_ref:
        credentials = (
            EnvVar(
                "FARFLOW_GIT_USERNAME", secret=SecretRef(git.credentials_secret_ref, "username")
            ),
            EnvVar(
                "FARFLOW_GIT_PASSWORD", secret=SecretRef(git.credentials_secret_ref, "password")
            ),
        )
        # Kubernetes expands $(VAR) from the variables above; no secret is written here.
        connection |= {"login": "$(FARFLOW_GIT_USERNAME)", "password": "$(FARFLOW_GIT_PASSWORD)"}
    conn_env = EnvVar(f"AIRFLOW_CONN_{GIT_CONN_ID.upper()}", value=json.dumps(connection))
    return (*credentials, conn_env)


Options = dict[tuple[str, str], str]


def in_cluster_service(spec: ResolvedSpec, names: KubeNames) -> str:
    """The Service in-cluster clients (workers, through the execution API) use: the exposed
    one, unless TLS at its NLB leaves that one HTTPS on 443 only."""
    return names.of("api") if spec.api_server.service.tls else names.service


def in_cluster_url(spec: ResolvedSpec, names: KubeNames) -> str:
    """The API server's URL for clients in the cluster: the workers, the operator."""
    service = in_cluster_service(spec, names)
    return f"http://{service}.{names.namespace}.svc.cluster.local:{API_PORT}"


def _core(spec: ResolvedSpec, names: KubeNames) -> Options:
    service_url = in_cluster_url(spec, names)
    return {
        ("core", "executor"): ",".join(EXECUTOR_CLASSES[e] for e in spec.airflow.executors),
        ("core", "execution_api_server_url"): f"{service_url}/execution/",
        ("core", "auth_manager"): FAB_AUTH_MANAGER,
        ("core", "load_examples"): "False",
        ("api", "port"): str(API_PORT),
        ("scheduler", "enable_health_check"): "True",
        ("scheduler", "scheduler_health_check_server_port"): str(SCHEDULER_HEALTH_PORT),
        ("logging", "worker_log_server_port"): str(WORKER_LOG_PORT),
    }


def _timeouts(spec: ResolvedSpec) -> Options:
    """How long a task may wait queued (also its workload token's lifetime) and stay silent
    while running; the visibility timeout is in _celery (farflow.api.timeouts)."""
    timeouts = spec.timeouts
    return {
        ("scheduler", "task_queued_timeout"): str(timeouts.queued),
        ("scheduler", "task_instance_heartbeat_timeout"): str(timeouts.heartbeat),
    }


def _latency() -> Options:
    """Airflow's and kombu's waits, shortened where bench/airflow.py measured the gain (the
    README's Performance section, median of 3: chain of 10 tasks 11.1 s -> 3.5 s, fan-out of
    50 on 5 slots 24.6 s -> 8.7 s; 7.5 s with 1 s heartbeats)."""
    return {
        # The scheduler sleeps this long after a loop that found nothing to do: Airflow's 1 s
        # was most of the 1.0 s median gap between one task's end and the next one's start.
        ("scheduler", "scheduler_idle_sleep_time"): "0.2",
        # A task's supervisor selects on the task's sockets for up to this long: once they
        # closed at the task's end, nothing wakes it, so it sees the exit and frees the
        # worker slot only this much later (_monitor_subprocess in Airflow's supervisor.py).
        # Airflow's 5 s held each slot of the fan-out for seconds after a 0.1 s task. Each
        # running task heartbeats this often, a request to the API server: hence 2 s, not 1 s.
        ("workers", "min_heartbeat_interval"): "2",
        # A worker with no free slot checks again after polling_interval, in the worker, with
        # no SQS call; kombu's 1 s left a freed slot idle that long.
        ("celery_broker_transport_options", "polling_interval"): "0.2",
        # An idle worker long-polls each queue at SQS's maximum: 3600 / (20 + 0.2) = 178
        # receives an hour per queue, where kombu's defaults (10 s + 1 s) make 327.
        ("celery_broker_transport_options", "wait_time_seconds"): "20",
    }


def _celery(spec: ResolvedSpec, facts: AwsFacts) -> Options:
    queues = spec.workers.all_queues()
    predefined = {queue: {"url": facts.queue_urls[queue]} for queue in queues}
    return {
        ("celery", "broker_url"): "sqs://",
        ("celery", "worker_concurrency"): str(spec.workers.concurrency),
        # SQS has no broadcast: Celery's remote control would fail on it.
        ("celery", "worker_enable_remote_control"): "False",
        # A task's message leaves SQS only once the task has finished, so a worker pod that
        # dies mid-task leaves it to be delivered again after the visibility timeout. When
        # only a worker's child process dies (killed, out of memory), Celery would still
        # acknowledge it; task_reject_on_worker_lost puts it back in the queue instead.
        ("celery", "task_acks_late"): "True",
        # Workers also import farflow_celery: the heartbeat their probes read.
        ("celery", "extra_celery_config"): json.dumps(
            {"task_reject_on_worker_lost": True, "imports": ["farflow_celery"]}
        ),
        ("celery_broker_transport_options", "region"): facts.region,
        ("celery_broker_transport_options", "visibility_timeout"): str(spec.timeouts.visibility),
        # Predefined queues: workers need no ListQueues/CreateQueue rights.
        ("celery_broker_transport_options", "predefined_queues"): json.dumps(predefined),
        ("operators", "default_queue"): spec.workers.queues[0],
    }


def _logging(facts: AwsFacts) -> Options:
    if facts.log_group_arn is None:
        return {("logging", "remote_logging"): "False"}
    return {
        ("logging", "remote_logging"): "True",
        ("logging", "remote_base_log_folder"): f"cloudwatch://{facts.log_group_arn}",
        ("logging", "remote_log_conn_id"): "aws_default",
    }


def _secrets_backend(spec: ResolvedSpec, region: str) -> Options:
    backend = spec.airflow.secrets_backend
    if backend is None:
        return {}
    kwargs = {
        "connections_prefix": backend.connections_prefix,
        "connections_lookup_pattern": backend.connections_lookup_pattern,
        "variables_prefix": backend.variables_prefix,
        "variables_lookup_pattern": backend.variables_lookup_pattern,
        "config_prefix": None,  # configuration comes from the spec, never from a lookup
        "region_name": region,
    }
    return {
        ("secrets", "backend"): SECRETS_MANAGER_BACKEND,
        ("secrets", "backend_kwargs"): json.dumps(kwargs),
    }


def _dag_bundles(dags: DagsSpec, bucket: str | None) -> Options:
    if dags.s3 is not None:
        bundle = {
            "name": "s3-dags",
            "classpath": "airflow.providers.amazon.aws.bundles.s3.S3DagBundle",
            "kwargs": {"bucket_name": bucket, "prefix": dags.s3.prefix},
        }
    elif dags.git is not None:
        bundle = {
            "name": "git-dags",
            "classpath": "airflow.providers.git.bundles.git.GitDagBundle",
            "kwargs": {
                "git_conn_id": GIT_CONN_ID,
                "tracking_ref": dags.git.ref,
                "subdir": dags.git.path or None,
                "refresh_interval": dags.git.refresh_interval_seconds,
            },
        }
    else:
        path = dags.image.path if dags.image else "/opt/airflow/dags"
        bundle = {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": path},
        }
    return {("dag_processor", "dag_bundle_config_list"): json.dumps([bundle])}


def _ecs_executor(spec: ResolvedSpec, facts: AwsFacts) -> Options:
    if "Ecs" not in spec.airflow.executors or facts.ecs is None:
        return {}
    vpc = facts.ecs.network_configuration["awsvpcConfiguration"]
    settings = {
        "cluster": facts.ecs.cluster,
        "task_definition": facts.ecs.executor_task_definition or "",
        "container_name": facts.ecs.container_name,
        "launch_type": "FARGATE",
        "region_name": facts.region,
        "subnets": ",".join(vpc["subnets"]),
        "security_groups": ",".join(vpc.get("securityGroups", [])),
        "assign_public_ip": str(vpc["assignPublicIp"] == "ENABLED"),
    }
    return {("aws_ecs_executor", key): value for key, value in settings.items()}


def _kubernetes_executor(spec: ResolvedSpec, names: KubeNames) -> Options:
    template = pod_template_file(spec)
    if template is None:
        return {}
    # Executor pods are Airflow workers: they run beside the ConfigMap and Secrets they read,
    # in the cluster's own namespace (spec.pods is where KubernetesPodOperator pods go).
    return {
        ("kubernetes_executor", "namespace"): names.namespace,
        ("kubernetes_executor", "pod_template_file"): template,
    }


def pod_labels(names: KubeNames, facts: AwsFacts) -> dict[str, str]:
    """What every pod of the cluster carries for its Fargate profile (see
    farflow.objects.fargate_labels), with the profile FarFlow made for it, if it made one."""
    labels = fargate_labels(names.namespace, names.cluster)
    if facts.fargate_profile_label:
        labels[PROFILE_LABEL] = facts.fargate_profile_label
    return labels


def _kubernetes_environment(spec: ResolvedSpec, labels: dict[str, str]) -> dict[str, str]:
    """What KubernetesPodOperator DAGs read: where their pods go, and an in-cluster connection.

    Variable.get("farflow_pods", deserialize_json=True) gives namespace, service_account and
    the labels that put a pod on Fargate."""
    namespace = spec.pods.namespace
    pods = {
        "namespace": namespace,
        "service_account": spec.pods.service_account_name,
        "labels": labels,
    }
    # KubernetesHook reads these extra fields (unprefixed) of kubernetes_default.
    connection = {"conn_type": "kubernetes", "extra": {"in_cluster": True, "namespace": namespace}}
    return {
        "AIRFLOW_VAR_FARFLOW_PODS": json.dumps(pods),
        "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(connection),
    }


def _aws_environment(facts: AwsFacts) -> dict[str, str]:
    aws_default = {"conn_type": "aws", "extra": {"region_name": facts.region}}
    environment = {
        "AWS_REGION": facts.region,
        "AWS_DEFAULT_REGION": facts.region,
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_default),
    }
    if facts.ecs is not None:
        # What EcsRunTaskOperator DAGs read: Variable.get("farflow_ecs", deserialize_json=True).
        environment["AIRFLOW_VAR_FARFLOW_ECS"] = json.dumps(
            {
                "cluster": facts.ecs.cluster,
                "task_definition": facts.ecs.task_definition,
                "container_name": facts.ecs.container_name,
                "network_configuration": facts.ecs.network_configuration,
                "region": facts.region,
                **_ecs_task_logs(facts.ecs, facts.region),
            }
        )
    return environment


def _ecs_task_logs(ecs: EcsFacts, region: str) -> dict[str, str]:
    """EcsRunTaskOperator's awslogs_* arguments, to show an ECS task's log in Airflow.

    The awslogs driver names a task's stream <awslogs-stream-prefix>/<container>/<task id>;
    the operator is given <awslogs-stream-prefix>/<container> and appends the task id."""
    if ecs.log_group is None or ecs.log_stream_prefix is None:
        return {}
    return {
        "awslogs_group": ecs.log_group,
        "awslogs_region": region,
        "awslogs_stream_prefix": f"{ecs.log_stream_prefix}/{ecs.container_name}",
    }
