"""The chart as Helm renders it: lint, values schema, Kubernetes schemas, checkov."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from farflow.manifests.rbac import CLUSTER_ROLE_RULES
from tests.cases import FULL, ROOT, load
from tests.helm.conftest import CHART, KUBE_VERSION, VALUES, Helm, documents

pytestmark = pytest.mark.helm

VALUE_FILES = sorted(VALUES.glob("*.yaml"))
IDS = [path.stem for path in VALUE_FILES]
CRD_DIR = CHART / "crds"
# The ClusterRoles the operator binds for Airflow (farflow.manifests.rbac) and only binds.
TASK_ROLES = set(CLUSTER_ROLE_RULES)


def kinds(rendered: str) -> list[str]:
    return sorted(document["kind"] for document in documents(rendered))


def by_kind(rendered: str, kind: str) -> list[dict[str, Any]]:
    return [document for document in documents(rendered) if document["kind"] == kind]


def test_values_files_cover_default_minimal_full() -> None:
    assert IDS == ["default", "full", "minimal"]


@pytest.mark.parametrize("values", VALUE_FILES, ids=IDS)
def test_lint_strict(helm: Helm, values: Path) -> None:
    helm.run(
        "lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION, "--values", str(values)
    )


def test_chart_crd_is_the_generated_one() -> None:
    generated = ROOT / "crds" / "airflowcluster.yaml"
    assert (CRD_DIR / "airflowcluster.yaml").read_text() == generated.read_text()


def test_values_schema_describes_every_key_and_closes_every_object() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(node: dict[str, Any], where: str) -> None:
        assert "type" in node, where
        assert node.get("description") or where == "", where
        if node["type"] == "object" and where != ".cluster.spec":  # the CRD checks the spec
            assert node.get("additionalProperties") is False, where
        for key, child in node.get("properties", {}).items():
            walk(child, f"{where}.{key}")
        if "items" in node:
            walk(node["items"], f"{where}[]")

    walk(schema, "")
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(defaults, schema)
    assert set(defaults) == set(schema["properties"])


@pytest.mark.parametrize(
    "override",
    ["unknown=1", "image.unknown=1", "cluster.unknown=1", "replicas=0", "logFormat=xml"],
)
def test_schema_rejects_bad_values(helm: Helm, override: str) -> None:
    result = helm.run(
        "template", "farflow", str(CHART), "--set", override, check=False
    )  # fmt: skip
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr


def test_default_values_watch_every_namespace(rendered: dict[str, str]) -> None:
    text = rendered["default"]
    assert kinds(text) == [
        "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding",
        "ClusterRoleBinding", "Deployment", "NetworkPolicy", "ServiceAccount",
    ]  # fmt: skip
    (deployment,) = by_kind(text, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["farflow"]
    assert container["args"][:3] == ["run", "--all-namespaces", f"--liveness={LIVENESS}"]
    assert not any(arg.startswith("--peering") for arg in container["args"])
    (account,) = by_kind(text, "ServiceAccount")
    assert "annotations" not in account["metadata"]


LIVENESS = "http://0.0.0.0:8080/healthz"


def test_full_values_use_roles_peering_and_irsa(rendered: dict[str, str]) -> None:
    text = rendered["full"]
    roles = by_kind(text, "Role")
    assert sorted(role["metadata"]["namespace"] for role in roles) == [
        "airflow", "aws-observability", "team-a",
    ]  # fmt: skip
    assert {p["metadata"]["namespace"] for p in by_kind(text, "KopfPeering")} == {
        "airflow",
        "team-a",
    }
    (deployment,) = by_kind(text, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=airflow" in args
    assert "--namespace=team-a" in args
    assert "--peering=farflow" in args
    assert deployment["spec"]["replicas"] == 2
    (account,) = by_kind(text, "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/farflow-operator"
    }
    (cluster,) = by_kind(text, "AirflowCluster")
    assert cluster["spec"] == load(FULL)["spec"]


@pytest.mark.parametrize("values", IDS)
def test_operator_pod_is_restricted_fargate_sized_and_probed(
    rendered: dict[str, str], values: str
) -> None:
    (deployment,) = by_kind(rendered[values], "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    resources = container["resources"]
    assert resources["requests"] == resources["limits"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["ports"][0]["containerPort"] == 8080


def held(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs, of the rules without resourceNames."""
    verbs: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                if "resourceNames" not in rule:
                    verbs.setdefault((group, resource), set()).update(rule["verbs"])
    return verbs


@pytest.mark.parametrize("values", IDS)
def test_the_operator_may_bind_the_task_pod_roles_and_may_not_create_pods(
    rendered: dict[str, str], values: str
) -> None:
    """RBAC lets a RoleBinding grant what its author holds or may bind: the operator binds
    the chart's two ClusterRoles instead of holding pods create and exec everywhere."""
    text = rendered[values]
    roles = [*by_kind(text, "Role"), *by_kind(text, "ClusterRole")]
    operator = [r for r in roles if r["metadata"]["name"] not in TASK_ROLES]
    for role in operator:
        for rule in role["rules"]:
            assert not {"*", "escalate", "impersonate"} & set(rule["verbs"])
            assert "*" not in rule["resources"]
            if "bind" in rule["verbs"]:
                assert rule["verbs"] == ["bind"]
                assert rule["resources"] == ["clusterroles"]
                assert set(rule["resourceNames"]) == TASK_ROLES
        verbs = held(role)
        # patch: a worker pod's deletion cost before a scale-in; never create or exec
        assert verbs.get(("", "pods"), set()) <= {"get", "list", "patch"}, role["metadata"]["name"]
        assert ("", "pods/exec") not in verbs
    namespaced = [
        r for r in operator if not r["metadata"]["name"].endswith(("-kopf", "-observability"))
    ]
    assert namespaced
    for role in namespaced:
        binds = [rule for rule in role["rules"] if "bind" in rule["verbs"]]
        assert len(binds) == 1, role["metadata"]["name"]
    task_roles = {
        r["metadata"]["name"]: r["rules"] for r in roles if r["metadata"]["name"] in TASK_ROLES
    }
    assert task_roles == CLUSTER_ROLE_RULES


def validate_custom(document: dict[str, Any]) -> None:
    """Custom resources against the openAPIV3Schema of the chart's own CRDs."""
    for path in CRD_DIR.glob("*.yaml"):
        for crd in yaml.safe_load_all(path.read_text()):
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if document["apiVersion"] == f"{group}/{version['name']}" and (
                    document["kind"] == kind
                ):
                    jsonschema.validate(document, version["schema"]["openAPIV3Schema"])
                    return
    raise AssertionError(f"no CRD for {document['apiVersion']} {document['kind']}")


@pytest.mark.parametrize("values", IDS)
def test_every_object_matches_the_kubernetes_schemas(rendered: dict[str, str], values: str) -> None:
    """kubernetes-validate's strict schemas of Kubernetes 1.36 (unknown fields rejected)."""
    schema_version = ".".join(KUBE_VERSION.split(".")[:2]) + ".0"
    for document in documents(rendered[values]):
        try:
            kubernetes_validate.validate(document, schema_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            validate_custom(document)


def test_checkov_finds_nothing_but_the_charts_suppressions(
    rendered: dict[str, str], checkov: Path, tmp_path: Path
) -> None:
    for name, text in rendered.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    result = subprocess.run(
        [str(checkov), "--directory", str(tmp_path), "--framework", "kubernetes",
         "--output", "json", "--skip-download"],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
    )  # fmt: skip
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [
        (check["check_id"], check["resource"]) for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["passed"] > 0
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the chart's suppressions are expected to be seen"
    for check in skipped:
        assert check["check_result"].get("suppress_comment"), check["check_id"]
