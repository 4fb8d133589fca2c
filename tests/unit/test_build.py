"""Builders: every manifest of a cluster, checked as Kubernetes and EKS Fargate need it."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from farflow.api import parse
from farflow.api.resource import MAX_NAME_LENGTH
from farflow.api.spec import FARFLOW_AIRFLOW_IMAGE
from farflow.fargate import is_valid, pod_size
from farflow.kube.apply import PRUNABLE
from farflow.manifests import manifests
from farflow.manifests.rbac import cluster_roles
from farflow.manifests.service_accounts import IRSA_ANNOTATION as IRSA
from farflow.objects import key, owner_value
from farflow.render import rendered
from farflow.runtime import MODULES
from tests.cases import FULL, SECURITY_GROUP_POLICY_CRD, load, merged
from tests.unit.planning import OWNER, SECRET_SENTINEL, built, of_kind, planned

pytestmark = pytest.mark.unit
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
KUBERNETES = {"airflow": {"executors": ["Celery", "Kubernetes"]}}
TASKS_ELSEWHERE = {"pods": {"namespace": "tasks"}}
KUBERNETES_EXECUTOR = {"spec": KUBERNETES}
KUBERNETES_EXECUTOR_TASKS_ELSEWHERE = {"spec": {**KUBERNETES, **TASKS_ELSEWHERE}}
POD_TEMPLATE_HASH = "farflow.io/pod-template-hash"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "worker")


def pod_templates(objects: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    """Every pod FarFlow makes or has made: Deployments', Jobs' and the executor's task pod."""
    templates = [m["spec"]["template"] for m in objects if m["kind"] in ("Deployment", "Job")]
    return [*templates, *([executor_pod(objects)] if pod_template_maps(objects) else [])]


def pod_specs(objects: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return [template["spec"] for template in pod_templates(objects)]


def pod_template_maps(objects: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return [
        m for m in of_kind(objects, "ConfigMap") if m["metadata"]["name"].endswith("-pod-template")
    ]


def config_map_named(objects: list[dict], name: str) -> dict:  # type: ignore[type-arg]
    [found] = [m for m in of_kind(objects, "ConfigMap") if m["metadata"]["name"] == name]
    return found


RUNTIME_VOLUME = {"name": "farflow-runtime", "configMap": {"name": "minimal-runtime"}}


def executor_pod(objects: list[dict]) -> dict:  # type: ignore[type-arg]
    [config_map] = pod_template_maps(objects)
    return dict(yaml.safe_load(config_map["data"]["pod_template.yaml"]))


def deployment_named(objects: list[dict], name: str) -> dict:  # type: ignore[type-arg]
    [found] = [d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == name]
    return found


def test_every_object_is_labelled_and_owned() -> None:
    for manifest in built():
        meta = manifest["metadata"]
        assert meta["labels"]["farflow.io/cluster"] == "minimal", key(manifest)
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "farflow"
        assert meta["labels"]["app.kubernetes.io/instance"] == "minimal"
        assert meta["ownerReferences"] == [OWNER.reference()], key(manifest)


@pytest.mark.parametrize("patch", [{"spec": TASKS_ELSEWHERE}, KUBERNETES_EXECUTOR_TASKS_ELSEWHERE])
def test_every_object_is_built_once(patch: dict[str, object]) -> None:
    keys = [key(m) for m in built(patch)]
    assert len(keys) == len(set(keys))


def test_every_object_can_be_pruned_once_unwanted() -> None:
    """kube.apply.prune lists these kinds by these labels: nothing built escapes it."""
    for manifest in built(KUBERNETES_EXECUTOR_TASKS_ELSEWHERE):
        assert (manifest["apiVersion"], manifest["kind"]) in PRUNABLE, key(manifest)
        assert manifest["metadata"]["labels"]["farflow.io/cluster"] == "minimal"


def test_objects_in_the_task_namespace_are_labelled_but_not_owned() -> None:
    objects = built({"spec": {"pods": {"namespace": "tasks"}}})
    elsewhere = [m for m in objects if m["metadata"]["namespace"] == "tasks"]
    assert sorted(m["kind"] for m in elsewhere) == ["RoleBinding", "ServiceAccount"]
    assert all("ownerReferences" not in m["metadata"] for m in elsewhere)
    # Named and labelled after the owner's namespace too: another namespace's cluster of the
    # same name may share the task namespace.
    assert sorted(m["metadata"]["name"] for m in elsewhere) == [
        "default.minimal-pod-operator",
        "default.minimal-task",
    ]
    assert {m["metadata"]["labels"]["farflow.io/owner"] for m in elsewhere} == {"default.minimal"}


def test_owner_labels_fit_a_label_value_and_stay_distinct() -> None:
    long = owner_value("n" * 63, "a" * 46)
    assert len(long) == 63
    assert long != owner_value("n" * 63, "a" * 45 + "b")
    assert owner_value("team-a", "airflow") == "team-a.airflow"


def test_order_identities_then_config_then_migration_then_components() -> None:
    objects = built(KUBERNETES_EXECUTOR)
    kinds = [m["kind"] for m in objects]
    assert kinds.index("ServiceAccount") < kinds.index("Secret") < kinds.index("ConfigMap")
    assert kinds.index("Job") < kinds.index("Deployment")
    order = [m["metadata"]["name"] for m in objects]
    assert order.index("minimal-pod-template") < kinds.index("Job")
    names = [m["metadata"]["name"] for m in of_kind(built(), "Deployment")]
    assert names == [
        "minimal-api-server",
        "minimal-scheduler",
        "minimal-dag-processor",
        "minimal-triggerer",
        "minimal-worker",
    ]


def test_pods_are_fargate_sized_with_requests_equal_to_limits() -> None:
    for spec in pod_specs(built({"spec": {"size": "large", **KUBERNETES}})):
        for container in spec["containers"]:
            resources = container["resources"]
            assert resources["requests"] == resources["limits"]
            size = pod_size(resources["requests"]["cpu"], resources["requests"]["memory"])
            assert is_valid(size)
            # The container fills its Fargate pod exactly: nothing paid for is left unused.
            assert size.container_memory_mib == int(resources["requests"]["memory"][:-2])


@pytest.mark.parametrize("patch", [{}, KUBERNETES_EXECUTOR])
def test_pods_meet_the_restricted_pod_security_standard(patch: dict[str, object]) -> None:
    for spec in pod_specs(built(patch)):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["securityContext"]["runAsUser"] != 0
        for container in spec["containers"]:
            assert container["securityContext"] == RESTRICTED_CONTAINER
        assert not {"hostNetwork", "hostPID", "hostIPC"} & spec.keys()
        # Fargate mounts no hostPath or EBS: ConfigMaps only.
        assert all(volume.keys() == {"name", "configMap"} for volume in spec.get("volumes", []))


def test_pods_carry_the_fargate_profile_label() -> None:
    for template in pod_templates(built(KUBERNETES_EXECUTOR)):
        assert template["metadata"]["labels"]["farflow.io/fargate"] == "true"


def test_deployments_have_probes_and_workers_a_grace_period() -> None:
    objects = built({"spec": {"workers": {"terminationGracePeriodSeconds": 7200}}})
    for deployment in of_kind(objects, "Deployment"):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert "readinessProbe" in container
        assert "livenessProbe" in container
    deployments = {d["metadata"]["name"]: d for d in of_kind(objects, "Deployment")}
    worker = deployments["minimal-worker"]
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 7200
    scheduler = deployments["minimal-scheduler"]
    probe = scheduler["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    assert probe["httpGet"] == {"path": "/health", "port": 8974}


def test_airflow_containers_leave_the_entrypoint_to_the_image() -> None:
    """Only args: the image's dumb-init runs as PID 1 and forwards the kubelet's signals."""
    for workload in [*of_kind(built(), "Deployment"), *of_kind(built(), "Job")]:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert "command" not in container
            assert container["args"]


def test_the_workers_dumb_init_signals_only_celerys_main_process() -> None:
    """DUMB_INIT_SETSID=0, as the Airflow chart sets it: SIGTERM reaches Celery's main
    process alone, which shuts down warm; other components keep dumb-init's default."""
    deployments = {d["metadata"]["name"]: d for d in of_kind(built(), "Deployment")}
    for name, deployment in deployments.items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        expected = "0" if name == "minimal-worker" else None
        assert env.get("DUMB_INIT_SETSID") == expected, name


def test_no_secret_value_outside_secrets() -> None:
    objects = built(
        {
            "spec": {
                "airflow": {
                    "env": [
                        {
                            "name": "TOKEN",
                            "valueFrom": {"secretKeyRef": {"name": "extra", "key": "token"}},
                        },
                    ]
                }
            }
        }
    )
    for manifest in objects:
        if manifest["kind"] != "Secret":
            assert SECRET_SENTINEL not in json.dumps(manifest), key(manifest)
    for spec in pod_specs(objects):
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            for env in container["env"]:
                secretish = any(w in env["name"] for w in ("KEY", "SECRET", "CONN", "TOKEN"))
                if secretish and not env["name"].startswith("AIRFLOW_CONN_"):
                    assert "valueFrom" in env, env["name"]
    config = config_map_named(objects, "minimal-airflow-config")
    assert not any("SECRET" in name or "FERNET" in name for name in config["data"])


def test_the_shared_keys_and_admin_password_mirror_secrets_manager() -> None:
    secrets = {m["metadata"]["name"]: m for m in of_kind(built(), "Secret")}
    assert set(secrets) == {"minimal-airflow-secrets", "minimal-admin"}
    # The keys every component shares and the admin password are kept in Secrets Manager;
    # the Kubernetes Secrets mirror them, so a deleted one comes back with the same values.
    shared = secrets["minimal-airflow-secrets"]
    assert set(shared["data"]) == {"fernet-key", "jwt-secret", "api-secret-key"}
    admin = secrets["minimal-admin"]
    for mirrored in (shared, admin):
        assert "annotations" not in mirrored["metadata"]
    assert base64.b64decode(admin["data"]["password"]).decode() == SECRET_SENTINEL


def test_pods_roll_when_the_secrets_they_read_change() -> None:
    for deployment in of_kind(built(), "Deployment"):
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["farflow.io/secrets-hash"] == "hash-of-the-secrets"


def test_the_pods_read_the_database_the_keys_and_the_users_secrets() -> None:
    env = {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "extra", "key": "token"}}}
    made = planned({"spec": {"airflow": {"env": [env]}}})
    assert made.secret_keys() == {
        "airflow-db": {"connection"},
        "minimal-airflow-secrets": {"fernet-key", "jwt-secret", "api-secret-key"},
        "extra": {"token"},
    }


def test_an_admin_password_secret_of_the_user_is_not_generated() -> None:
    objects = built({"spec": {"admin": {"passwordSecretRef": {"name": "my-admin"}}}})
    assert [m["metadata"]["name"] for m in of_kind(objects, "Secret")] == [
        "minimal-airflow-secrets"
    ]
    [job] = of_kind(objects, "Job")
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    password = next(e for e in env if e["name"] == "FARFLOW_ADMIN_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"] == {"name": "my-admin", "key": "password"}


def test_migration_job_is_named_per_image() -> None:
    [first] = of_kind(built(), "Job")
    [same] = of_kind(built({"spec": {"workers": {"maxReplicas": 3}}}), "Job")
    new_image = {"spec": {"airflow": {"image": {"tag": "3.3.2-farflow0.2.0"}}}}
    [upgraded] = of_kind(built(new_image), "Job")
    assert first["metadata"]["name"] == same["metadata"]["name"]
    assert first["metadata"]["name"] != upgraded["metadata"]["name"]
    assert first["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize(
    "patch",
    [
        {"database": {"connectionSecretRef": {"name": "another-db"}}},
        {"admin": {"username": "root"}},
        {"admin": {"passwordSecretRef": {"name": "my-admin"}}},
    ],
    ids=["database", "admin user", "admin password"],
)
def test_every_migration_input_names_its_job(patch: dict[str, object]) -> None:
    """Another database or admin gets its own migration, as a new image does."""
    [first] = of_kind(built(), "Job")
    [changed] = of_kind(built({"spec": patch}), "Job")
    assert first["metadata"]["name"] != changed["metadata"]["name"]


def test_config_change_rolls_the_pods() -> None:
    def hashes(patch: dict[str, object]) -> set[str]:
        return {
            d["spec"]["template"]["metadata"]["annotations"]["farflow.io/config-hash"]
            for d in of_kind(built(patch), "Deployment")
        }

    before = hashes({})
    after = hashes({"spec": {"airflow": {"config": {"core": {"parallelism": "8"}}}}})
    assert len(before) == len(after) == 1
    assert before != after


def test_service_is_an_internal_nlb_with_ip_targets() -> None:
    [service] = of_kind(built(), "Service")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    }
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "api-server"


def test_cluster_ip_service_has_no_load_balancer_annotations() -> None:
    [service] = of_kind(
        built({"spec": {"apiServer": {"service": {"type": "ClusterIP"}}}}), "Service"
    )
    assert "annotations" not in service["metadata"]


def test_each_component_has_its_own_service_account_and_task_pods_their_role() -> None:
    airflow, tasks = (f"arn:aws:iam::123456789012:role/farflow/{n}" for n in ("airflow", "tasks"))
    pods = {"serviceAccountRoleArn": tasks}
    objects = built({"spec": {"aws": {"serviceAccountRoleArn": airflow}, "pods": pods}})
    roles = {
        a["metadata"]["name"]: a["metadata"].get("annotations", {}).get(IRSA)
        for a in of_kind(objects, "ServiceAccount")
    }
    assert roles == {
        **{f"minimal-{c}": airflow for c in COMPONENTS},
        "minimal-migration": None,  # the database needs no AWS role
        "minimal-task": tasks,  # KubernetesPodOperator pods: never the Airflow role
    }
    accounts = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["spec"][
            "serviceAccountName"
        ]
        for d in [*of_kind(objects, "Deployment"), *of_kind(objects, "Job")]
    }
    assert accounts == {**{c: f"minimal-{c}" for c in COMPONENTS}, "migration": "minimal-migration"}


def test_only_what_talks_to_kubernetes_gets_a_token() -> None:
    tokens = {
        a["metadata"]["name"]: a.get("automountServiceAccountToken", True)
        for a in of_kind(built(KUBERNETES_EXECUTOR), "ServiceAccount")
    }
    assert tokens == {
        "minimal-api-server": False,
        "minimal-dag-processor": False,
        "minimal-migration": False,
        "minimal-scheduler": True,  # the Kubernetes executor
        "minimal-triggerer": True,  # deferred KubernetesPodOperator tasks
        "minimal-worker": True,  # KubernetesPodOperator
        "minimal-task": True,
    }


def test_disruption_budgets_and_network_policy() -> None:
    objects = built()
    budgets = of_kind(objects, "PodDisruptionBudget")
    assert len(budgets) == 5
    assert all(b["spec"]["maxUnavailable"] == 1 for b in budgets)
    [policy] = of_kind(objects, "NetworkPolicy")
    assert policy["spec"]["podSelector"] == {"matchLabels": {"farflow.io/cluster": "minimal"}}
    assert policy["spec"]["ingress"][0] == {"ports": [{"port": 8080, "protocol": "TCP"}]}


def test_bindings_refer_to_the_charts_cluster_roles_and_only_exec_for_pod_operator() -> None:
    rules = {
        role["metadata"]["name"]: {r for rule in role["rules"] for r in rule["resources"]}
        for role in cluster_roles()
    }
    assert rules == {
        "farflow-kubernetes-executor": {"pods", "pods/log", "events"},
        "farflow-pod-operator": {"pods", "pods/log", "pods/exec", "events"},
    }
    assert of_kind(built(KUBERNETES_EXECUTOR), "Role") == []


@pytest.mark.parametrize(
    ("patch", "bindings"),
    [
        ({}, {("default", "farflow-pod-operator"): ["triggerer", "worker"]}),
        ({"spec": TASKS_ELSEWHERE}, {("tasks", "farflow-pod-operator"): ["triggerer", "worker"]}),
        (
            KUBERNETES_EXECUTOR,
            {
                ("default", "farflow-kubernetes-executor"): ["scheduler"],
                ("default", "farflow-pod-operator"): ["triggerer", "worker"],
            },
        ),
        (
            {"spec": {**KUBERNETES, "triggerer": {"enabled": False}}},
            {
                ("default", "farflow-kubernetes-executor"): ["scheduler"],
                ("default", "farflow-pod-operator"): ["worker"],
            },
        ),
    ],
)
def test_only_the_components_that_start_pods_may_and_where_they_start_them(
    patch: dict[str, object], bindings: dict[tuple[str, str], list[str]]
) -> None:
    found = {
        (b["metadata"]["namespace"], b["roleRef"]["name"]): [
            s["name"].removeprefix("minimal-") for s in b["subjects"]
        ]
        for b in of_kind(built(patch), "RoleBinding")
    }
    assert found == bindings
    for binding in of_kind(built(patch), "RoleBinding"):
        assert binding["roleRef"]["kind"] == "ClusterRole"
        assert {s["namespace"] for s in binding["subjects"]} == {"default"}


def test_a_task_namespace_that_refused_gets_nothing() -> None:
    made = planned({"spec": TASKS_ELSEWHERE})
    refused = manifests(replace(made, tasks_allowed=False), OWNER, {})
    assert [m for m in refused if m["metadata"]["namespace"] == "tasks"] == []
    assert of_kind(refused, "RoleBinding") == []


def test_kubernetes_executor_pods_are_the_workers_pods() -> None:
    objects = built(KUBERNETES_EXECUTOR)
    [config_map] = pod_template_maps(objects)
    assert config_map["metadata"]["name"] == "minimal-pod-template"
    assert list(config_map["data"]) == ["pod_template.yaml"]
    pod = executor_pod(objects)
    assert kubernetes_validate.validate(pod, "1.36", strict=True)
    assert (pod["apiVersion"], pod["kind"]) == ("v1", "Pod")
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["serviceAccountName"] == "minimal-worker"
    [base] = spec["containers"]
    assert base["name"] == "base"  # the container KubernetesExecutor runs the task in
    worker_spec = deployment_named(objects, "minimal-worker")["spec"]["template"]["spec"]
    [worker] = worker_spec["containers"]
    for field in ("image", "imagePullPolicy", "envFrom", "env", "resources", "securityContext"):
        assert base[field] == worker[field], field
    assert base["envFrom"] == [{"configMapRef": {"name": "minimal-airflow-config"}}]
    assert spec["securityContext"] == worker_spec["securityContext"]
    # Not the worker Deployment's pods: its ReplicaSet would adopt them.
    labels = pod["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "kubernetes-executor"


def test_the_scheduler_reads_the_pod_template_where_the_config_says() -> None:
    objects = built(KUBERNETES_EXECUTOR)
    config = config_map_named(objects, "minimal-airflow-config")
    path = config["data"]["AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE"]
    assert path == "/opt/airflow/pod_templates/pod_template.yaml"
    spec = deployment_named(objects, "minimal-scheduler")["spec"]["template"]["spec"]
    assert spec["volumes"] == [
        RUNTIME_VOLUME,
        {"name": "pod-template", "configMap": {"name": "minimal-pod-template"}},
    ]
    [scheduler] = spec["containers"]
    [_, mount] = scheduler["volumeMounts"]
    assert (mount["name"], mount["readOnly"]) == ("pod-template", True)
    assert f"{mount['mountPath']}/pod_template.yaml" == path
    others = [
        d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] != "minimal-scheduler"
    ]
    assert all(d["spec"]["template"]["spec"]["volumes"] == [RUNTIME_VOLUME] for d in others)


def test_no_pod_template_without_the_kubernetes_executor() -> None:
    objects = built()
    assert pod_template_maps(objects) == []
    assert all(spec["volumes"] == [RUNTIME_VOLUME] for spec in pod_specs(objects))


def test_every_airflow_pod_mounts_farflows_runtime_on_its_python_path() -> None:
    objects = built(KUBERNETES_EXECUTOR)
    runtime = config_map_named(objects, "minimal-runtime")["data"]
    assert set(runtime) == {f"{name}.py" for name in MODULES}
    config = config_map_named(objects, "minimal-airflow-config")["data"]
    assert config["PYTHONPATH"] == "/opt/farflow"
    for spec in pod_specs(objects):
        assert RUNTIME_VOLUME in spec["volumes"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            mount = {"name": "farflow-runtime", "mountPath": "/opt/farflow", "readOnly": True}
            assert mount in container["volumeMounts"]


def test_workers_and_the_migration_check_the_image_first() -> None:
    """The preflight init container imports every module the configuration needs."""
    objects = built()
    made = planned()
    for workload in [deployment_named(objects, "minimal-worker"), *of_kind(objects, "Job")]:
        [preflight] = workload["spec"]["template"]["spec"]["initContainers"]
        assert preflight["args"] == ["python", "-m", "farflow_preflight"]
        assert preflight["terminationMessagePolicy"] == "FallbackToLogsOnError"
        env = {e["name"]: e.get("value") for e in preflight["env"]}
        assert json.loads(env["FARFLOW_REQUIRED_MODULES"]) == made.required_modules
        assert env["FARFLOW_IMAGE"] == made.image
    others = [
        d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] != "minimal-worker"
    ]
    assert not any("initContainers" in d["spec"]["template"]["spec"] for d in others)


def test_a_changed_pod_template_rolls_the_scheduler_alone() -> None:
    def annotations(patch: dict[str, object]) -> dict[str, str]:
        scheduler = deployment_named(built({"spec": {**KUBERNETES, **patch}}), "minimal-scheduler")
        return dict(scheduler["spec"]["template"]["metadata"]["annotations"])

    before = annotations({})
    assert annotations({}) == before
    after = annotations({"workers": {"resources": {"cpu": "2", "memory": "4Gi"}}})
    assert after[POD_TEMPLATE_HASH] != before[POD_TEMPLATE_HASH]
    # The Airflow settings did not change: the other components do not roll.
    assert after["farflow.io/config-hash"] == before["farflow.io/config-hash"]


# What the API server checks of names and labels, which its OpenAPI schemas do not say.
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?")
NAME_RULES = {"Service": DNS_1035_LABEL, "Job": DNS_LABEL}  # a Job's name is its pods' label


def assert_names_valid(manifest: dict) -> None:  # type: ignore[type-arg]
    meta = manifest["metadata"]
    rule = NAME_RULES.get(manifest["kind"], DNS_SUBDOMAIN)
    assert rule.fullmatch(meta["name"]), (manifest["kind"], meta["name"])
    assert DNS_LABEL.fullmatch(meta["namespace"]), meta["namespace"]
    templates = [manifest.get("spec", {}).get("template", {}).get("metadata", {}), meta]
    for labels in (t.get("labels", {}) for t in templates):
        for value in labels.values():
            assert LABEL_VALUE.fullmatch(value), (manifest["kind"], meta["name"], value)


def validate_strictly(manifest: dict) -> None:  # type: ignore[type-arg]
    """Against Kubernetes' strict schemas, or EKS's SecurityGroupPolicy CRD (tests/cases)."""
    if manifest["kind"] != "SecurityGroupPolicy":
        kubernetes_validate.validate(manifest, "1.36", strict=True)
        return
    crd = yaml.safe_load(SECURITY_GROUP_POLICY_CRD.read_text())
    jsonschema.validate(manifest, crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def test_the_longest_accepted_name_renders_valid_objects() -> None:
    longest = "a" * MAX_NAME_LENGTH
    namespace = "n" * 63
    full = merged(
        load(FULL),
        {
            "metadata": {"name": longest, "namespace": namespace},
            "spec": {
                "pods": {"namespace": "t" * 63},
                "workers": {"pools": [{"name": "p" * 20, "queues": ["q" * 40]}]},
            },
        },
    )
    objects = rendered(parse(full), "123456789012")
    for manifest in objects:
        validate_strictly(manifest)
        assert_names_valid(manifest)
    pod = executor_pod(objects)
    kubernetes_validate.validate(pod, "1.36", strict=True)
    assert_names_valid(
        {**pod, "metadata": {**pod["metadata"], "name": longest, "namespace": namespace}}
    )


def test_a_digest_pins_every_airflow_container() -> None:
    digest = f"sha256:{'0' * 64}"
    image = {"tag": "moving", "digest": digest}
    objects = built({"spec": {"airflow": {**KUBERNETES["airflow"], "image": image}}})
    images = {c["image"] for spec in pod_specs(objects) for c in spec["containers"]}
    assert images == {f"{FARFLOW_AIRFLOW_IMAGE}@{digest}"}
    assert {m["kind"] for m in objects if m["kind"] in ("Deployment", "Job")} == {
        "Deployment",
        "Job",
    }
    assert len(pod_template_maps(objects)) == 1  # the executor's pods are among them


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d"
INTERNET = {"scheme": "internet-facing", "tls": {"certificateArn": CERTIFICATE}}


def test_tls_ends_at_the_nlb_on_443_and_in_cluster_clients_keep_8080() -> None:
    service = {**INTERNET, "loadBalancerSourceRanges": ["203.0.113.0/24"]}
    objects = built({"spec": {"apiServer": {"service": service}}})
    exposed, in_cluster = of_kind(objects, "Service")
    assert exposed["metadata"]["name"] == "minimal-api-server"
    assert exposed["spec"]["ports"] == [
        {"name": "https", "port": 443, "targetPort": "http", "protocol": "TCP"}
    ]  # no plain port: the NLB would listen on it too
    assert exposed["spec"]["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    annotations = exposed["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == CERTIFICATE
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "https"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert (in_cluster["metadata"]["name"], in_cluster["spec"]["type"]) == (
        "minimal-api",
        "ClusterIP",
    )
    assert [p["port"] for p in in_cluster["spec"]["ports"]] == [8080]
    [config] = [
        m for m in of_kind(objects, "ConfigMap") if m["metadata"]["name"].endswith("-config")
    ]
    assert config["data"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://minimal-api.default.svc.cluster.local:8080/execution/"
    )


def test_security_groups_are_for_the_airflow_pods_only() -> None:
    groups = ["sg-0a1b2c3d4e5f60718"]
    objects = built({"spec": {"network": {"podSecurityGroupIds": groups}, **KUBERNETES}})
    [policy] = of_kind(objects, "SecurityGroupPolicy")
    validate_strictly(policy)
    assert policy["spec"]["securityGroups"] == {"groupIds": groups}
    selector = policy["spec"]["podSelector"]
    airflow = [t["metadata"]["labels"] for t in pod_templates(objects)]
    assert len(airflow) == 7  # five Deployments, the migration, the executor's task pods
    assert all(selects(selector, labels) for labels in airflow)
    task_pod = json.loads(planned({"spec": KUBERNETES}).config["AIRFLOW_VAR_FARFLOW_PODS"])
    assert not selects(selector, task_pod["labels"])  # the user's task pods: not near RDS
    assert of_kind(built(), "SecurityGroupPolicy") == []


def selects(selector: dict, labels: dict[str, str]) -> bool:  # type: ignore[type-arg]
    """A label selector's answer for ``labels`` (matchLabels and In expressions)."""
    return selector["matchLabels"].items() <= labels.items() and all(
        labels.get(e["key"]) in e["values"] for e in selector["matchExpressions"]
    )
