"""The operator under faults, on the real control plane with AWS on moto behind the fault
proxy: AWS that fails, an API server that refuses or goes silent, parallel handlers, and two
replicas. Each fault leaves a status the user can read, loses nothing, and converges."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from farflow.api import parse
from farflow.autoscale import AUTOSCALE_SECONDS
from farflow.render import rendered
from tests.cases import MINIMAL, ROOT, load, merged
from tests.fixtures.aws_proxy import AwsProxy, Fault
from tests.fixtures.operator import (
    RESYNC_SECONDS,
    Operator,
    Operators,
    apply_cluster,
    audit_writes,
    get_json,
    operator_requests,
    sleep_resyncs,
    wait_for,
    wait_ready,
)
from tests.fixtures.tcp_proxy import TcpProxy

pytestmark = pytest.mark.cluster
CLUSTER = "af/minimal"


def condition(local_cluster: Any, namespace: str, kind: str) -> dict[str, Any]:
    status = get_json(local_cluster, "-n", namespace, CLUSTER).get("status", {})
    found: dict[str, Any] = next((c for c in status.get("conditions", []) if c["type"] == kind), {})
    return found


def deployments(local_cluster: Any, namespace: str) -> dict[str, tuple[int, str]]:
    """Each Deployment's generation and config hash: what changes when pods roll."""
    found = get_json(local_cluster, "-n", namespace, "deployments")["items"]
    return {
        d["metadata"]["name"]: (
            d["metadata"]["generation"],
            d["spec"]["template"]["metadata"]["annotations"]["farflow.io/config-hash"],
        )
        for d in found
    }


def log_routing(local_cluster: Any) -> str:
    found = get_json(local_cluster, "-n", "aws-observability", "configmap/aws-logging")
    return str(found["data"]["output.conf"])


def warnings(local_cluster: Any, namespace: str, since: float) -> list[str]:
    events = get_json(
        local_cluster, "-n", namespace, "events", "--field-selector", "involvedObject.name=minimal"
    )["items"]
    return [
        f"{e['reason']}: {e['message']}"
        for e in events
        if e["type"] == "Warning"
        and time.mktime(time.strptime(e["lastTimestamp"][:19], "%Y-%m-%dT%H:%M:%S")) >= since
    ]


def test_a_denied_aws_part_rolls_nothing_and_says_why(
    local_cluster: Any, namespace: str, operator: Operator, aws_faults: AwsProxy
) -> None:
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    sleep_resyncs(1)
    before, routing = deployments(local_cluster, namespace), log_routing(local_cluster)
    since = time.time() + 1
    aws_faults.faults["logs:DescribeLogGroups"] = Fault("denied")
    wait_for(
        lambda: (
            "logs:DescribeLogGroups" in condition(local_cluster, namespace, "AwsReady")["message"]
        ),
        30,
        "AwsReady naming the denied action",
    )
    assert condition(local_cluster, namespace, "AwsReady")["status"] == "False"
    sleep_resyncs(3)
    assert deployments(local_cluster, namespace) == before  # no pod rolled
    assert log_routing(local_cluster) == routing  # pod logs still reach CloudWatch
    aws_faults.faults.clear()
    wait_ready(local_cluster, namespace)
    writes = audit_writes(local_cluster.audit_log, namespace, since)
    assert [w for w in writes if w.startswith(("patch deployments", "update deployments"))] == []


def test_a_throttled_call_keeps_a_running_cluster_running(
    local_cluster: Any, namespace: str, operator: Operator, aws_faults: AwsProxy
) -> None:
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    since = time.time()
    aws_faults.faults["sqs:GetQueueUrl"] = Fault("throttle")  # outlasts botocore's retries
    wait_for(
        lambda: (
            condition(local_cluster, namespace, "Reconciled")["reason"] == "ThrottlingException"
        ),
        180,
        "Reconciled telling of the throttling",
    )
    cluster = get_json(local_cluster, "-n", namespace, CLUSTER)
    assert cluster["status"]["phase"] == "Running"
    for kind in ("Ready", "AwsReady", "BrokerReady", "ApiServerAvailable", "WorkersAvailable"):
        assert condition(local_cluster, namespace, kind)["status"] == "True", kind
    assert warnings(local_cluster, namespace, since) == []
    aws_faults.faults.clear()
    wait_for(
        lambda: condition(local_cluster, namespace, "Reconciled")["status"] == "True",
        180,
        "Reconciled again",
    )


DENY_CONFIG = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["configmaps"]
  matchConditions:
    - name: the-clusters-settings
      expression: "object.metadata.name == 'minimal-airflow-config'"
  validations:
    - expression: "false"
      message: "settings frozen by a test policy"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {name}}}
spec:
  policyName: {name}
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {{kubernetes.io/metadata.name: {namespace}}}
"""


def test_a_kubernetes_api_error_reaches_status(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    policy = DENY_CONFIG.format(name=f"deny-{namespace}", namespace=namespace)
    local_cluster.kubectl("apply", "-f", "-", input=policy)
    # A policy takes a moment to be enforced: only then must the operator write the settings.
    wait_for(lambda: not config_writable(local_cluster, namespace), 30, "the policy enforced")
    parallelism = {"spec": {"airflow": {"config": {"core": {"parallelism": "64"}}}}}
    apply_cluster(local_cluster, namespace, parallelism)
    try:
        wait_for(
            lambda: (
                condition(local_cluster, namespace, "Reconciled")["reason"] == "KubernetesApiError"
            ),
            60,
            "Reconciled telling of the refused write",
        )
        reconciled = condition(local_cluster, namespace, "Reconciled")
        assert reconciled["status"] == "False"
        assert "settings frozen by a test policy" in reconciled["message"]
    finally:
        local_cluster.kubectl("delete", "-f", "-", input=policy)
    wait_for(
        lambda: condition(local_cluster, namespace, "Reconciled")["status"] == "True",
        60,
        "Reconciled once the policy is gone",
    )
    config = get_json(local_cluster, "-n", namespace, "configmap/minimal-airflow-config")
    assert config["data"]["AIRFLOW__CORE__PARALLELISM"] == "64"  # written once allowed


def config_writable(local_cluster: Any, namespace: str) -> bool:
    """Whether the API server would take a change of the cluster's settings now (dry run)."""
    patched = local_cluster.kubectl(
        "-n", namespace, "patch", "configmap", "minimal-airflow-config", "--type=merge",
        "--dry-run=server", "-p", '{"data": {"AIRFLOW__CORE__PARALLELISM": "1"}}', check=False,
    )  # fmt: skip
    return bool(patched.returncode == 0)


@pytest.fixture
def api_proxy(local_cluster: Any, tmp_path: Path) -> Iterator[tuple[TcpProxy, Path]]:
    """A TCP proxy in front of the API server, and a kubeconfig that goes through it."""
    config = yaml.safe_load(Path(local_cluster.kubeconfig).read_text())
    server = config["clusters"][0]["cluster"]["server"]
    host, port = server.removeprefix("https://").rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    config["clusters"][0]["cluster"]["server"] = f"https://{proxy.address}"
    kubeconfig = tmp_path / "through-proxy.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    for served in proxy.serve():
        yield served, kubeconfig


def test_connections_that_go_silent_do_not_stop_the_operator(
    local_cluster: Any,
    namespace: str,
    operators: Operators,
    api_proxy: tuple[TcpProxy, Path],
) -> None:
    proxy, kubeconfig = api_proxy
    operators.start(kubeconfig=kubeconfig)
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    assert proxy.freeze() > 0  # every connection the operator holds now hangs
    local_cluster.kubectl("-n", namespace, "delete", "deployment", "minimal-worker", "--wait=false")
    # The Kubernetes client gives up on a call after 30 s, and kopf's watch reconnects.
    wait_for(
        lambda: get_json(local_cluster, "-n", namespace, "deployment/minimal-worker"),
        RESYNC_SECONDS + 30 + 10 + 30,
        "the deleted Deployment restored over new connections",
    )


def test_status_never_goes_back_a_generation(
    local_cluster: Any, namespace: str, operators: Operators
) -> None:
    """The 1 s timer and the update handler run in parallel threads; one reconciles."""
    operators.start(resync=1)
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    jsonpath = "jsonpath={.status.observedGeneration}{'\\n'}"
    watch = subprocess.Popen(
        local_cluster.kubectl_argv("-n", namespace, "get", CLUSTER, "--watch", "-o", jsonpath),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for replicas in range(11, 21):
            apply_cluster(
                local_cluster, namespace, {"spec": {"workers": {"maxReplicas": replicas}}}
            )
        generation = get_json(local_cluster, "-n", namespace, CLUSTER)["metadata"]["generation"]
        wait_for(
            lambda: (
                get_json(local_cluster, "-n", namespace, CLUSTER)["status"]["observedGeneration"]
                == generation
            ),
            60,
            "the last edit observed",
        )
    finally:
        watch.terminate()
    seen = [int(line) for line in watch.communicate()[0].split() if line.strip()]
    assert seen == sorted(seen), seen
    events = get_json(
        local_cluster, "-n", namespace, "events", "--field-selector", "involvedObject.name=minimal"
    )["items"]
    assert [e["reason"] for e in events].count("Created") == 1


PEERING = """
apiVersion: kopf.dev/v1
kind: KopfPeering
metadata: {{name: farflow, namespace: {namespace}}}
"""


def peering_state(operator: Operator) -> str:
    with urllib.request.urlopen(operator.liveness, timeout=5) as answer:
        return str(json.loads(answer.read())["peering"])


def test_two_replicas_one_reconciles_and_the_other_takes_over(
    local_cluster: Any, namespace: str, operators: Operators
) -> None:
    local_cluster.kubectl(
        "apply", "-f", str(ROOT / "charts" / "farflow-operator" / "crds" / "kopf-peering.yaml")
    )
    local_cluster.kubectl("apply", "-f", "-", input=PEERING.format(namespace=namespace))
    replicas = [operators.start("--peering", "farflow") for _ in range(2)]
    wait_for(
        lambda: sorted(peering_state(r) for r in replicas) == ["active", "standby"],
        60,
        "one replica active, the other standing by",
    )
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    [active] = [r for r in replicas if peering_state(r) == "active"]
    [standby] = [r for r in replicas if r is not active]
    active.kill()
    local_cluster.kubectl("-n", namespace, "delete", "deployment", "minimal-worker", "--wait=false")
    lifetime = 60  # kopf's peering lifetime: the dead replica's record expires after it
    wait_for(
        lambda: get_json(local_cluster, "-n", namespace, "deployment/minimal-worker"),
        lifetime + RESYNC_SECONDS + 15,
        "the standby replica restoring the deleted Deployment",
    )
    assert peering_state(standby) == "active"


def failed_migration(local_cluster: Any, namespace: str) -> str:
    """The migration Job the operator will want, made first, suspended, then marked Failed
    through its status as the Job controller would (CloudNativePG's technique): so the
    operator finds a failed migration on the real API server. Returns its name."""
    manifest = merged(load(MINIMAL), {"metadata": {"namespace": namespace}})
    manifest["spec"]["aws"] = {"region": "us-east-1"}
    [job] = [m for m in rendered(parse(manifest), "0" * 12) if m["kind"] == "Job"]
    del job["metadata"]["ownerReferences"]  # render does not know the owner's uid
    job["spec"]["suspend"] = True
    local_cluster.kubectl("create", "-f", "-", input=json.dumps(job))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    failure = {
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
        "lastTransitionTime": now,
        "lastProbeTime": now,
    }
    conditions = [{"type": kind, **failure} for kind in ("FailureTarget", "Failed")]
    status = {"startTime": now, "conditions": conditions}
    name = job["metadata"]["name"]
    local_cluster.kubectl(
        "-n", namespace, "patch", "job", name, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip
    return str(name)


def test_a_failed_migration_stops_the_rollout_and_runs_again(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    job = failed_migration(local_cluster, namespace)
    since = time.time() - 1
    apply_cluster(local_cluster, namespace)
    wait_for(
        lambda: (
            condition(local_cluster, namespace, "MigrationComplete")["reason"]
            == "BackoffLimitExceeded"
        ),
        60,
        "MigrationComplete telling of the failed Job",
    )
    cluster = get_json(local_cluster, "-n", namespace, CLUSTER)
    assert cluster["status"]["phase"] == "Failed"
    migration = condition(local_cluster, namespace, "MigrationComplete")
    assert f"Job {job} failed" in migration["message"]
    assert get_json(local_cluster, "-n", namespace, "deployments")["items"] == []
    assert any(w.startswith("Failed:") for w in warnings(local_cluster, namespace, since))
    # FarFlow runs the migration again 30 s after it failed: kwok completes it this time.
    wait_ready(local_cluster, namespace, timeout=120)
    assert get_json(local_cluster, "-n", namespace, CLUSTER)["status"]["migration"] == {
        "job": job,
        "attempts": 2,
    }


def test_lost_shared_keys_come_back_the_same(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    """The keys live in Secrets Manager: a deleted Secret is restored with the same values
    (new ones would make every encrypted connection unreadable) and no pod rolls."""
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    before = get_json(local_cluster, "-n", namespace, "secret/minimal-airflow-secrets")["data"]
    rolled = deployments(local_cluster, namespace)
    local_cluster.kubectl("-n", namespace, "delete", "secret", "minimal-airflow-secrets")
    wait_for(
        lambda: get_json(local_cluster, "-n", namespace, "secret/minimal-airflow-secrets"),
        30,
        "the Secret of the shared keys restored",
    )
    after = get_json(local_cluster, "-n", namespace, "secret/minimal-airflow-secrets")["data"]
    assert after == before
    sleep_resyncs(1)
    assert deployments(local_cluster, namespace) == rolled


def secrets_hashes(local_cluster: Any, namespace: str) -> set[str]:
    found = get_json(local_cluster, "-n", namespace, "deployments")["items"]
    return {
        d["spec"]["template"]["metadata"]["annotations"]["farflow.io/secrets-hash"] for d in found
    }


def test_pods_roll_when_a_secret_they_read_changes(
    local_cluster: Any, namespace: str, operator: Operator
) -> None:
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    [before] = secrets_hashes(local_cluster, namespace)
    sets = len(get_json(local_cluster, "-n", namespace, "replicasets")["items"])
    url = "postgresql+psycopg2://airflow:rotated-password@db.example:5432/airflow"
    local_cluster.kubectl(
        "-n", namespace, "patch", "secret", "airflow-db", "--type=merge",
        "-p", json.dumps({"stringData": {"connection": url}}),
    )  # fmt: skip
    wait_for(
        lambda: (
            secrets_hashes(local_cluster, namespace) - {before}
            and len(get_json(local_cluster, "-n", namespace, "replicasets")["items"]) >= sets + 5
        ),
        60,
        "every component rolled onto the new database password",
    )
    wait_ready(local_cluster, namespace)


def test_a_settled_cluster_costs_few_requests_per_resync(
    local_cluster: Any, namespace: str, operators: Operators, aws_faults: AwsProxy
) -> None:
    """At rest, the owned objects are read from watches and AWS is checked every 10 minutes:
    at most 5 Kubernetes requests and 2 AWS calls per resync (M14). The autoscaler reads the
    one queue once a look and writes nothing."""
    operators.start(aws_recheck=600)
    apply_cluster(local_cluster, namespace)
    wait_ready(local_cluster, namespace)
    sleep_resyncs(2)
    since, aws_before = time.time() + 1, len(aws_faults.calls)
    sleep_resyncs(6)
    requests = operator_requests(local_cluster.audit_log, since)
    passes = requests.count("get secrets/airflow-db")  # each pass reads the user's Secret once
    assert passes >= 3, requests
    assert len(requests) <= 5 * passes, requests
    calls = aws_faults.calls[aws_before:]
    looks = [call for call in calls if call.app == "farflow-autoscaler"]
    assert len(calls) - len(looks) <= 2 * passes
    assert len(looks) <= (time.time() - since) / AUTOSCALE_SECONDS + 1
