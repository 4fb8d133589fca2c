"""farflow.local resolves containers as the kubelet does, from the operator's own manifests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from farflow.dev.up import own_log_port
from farflow.local import (
    KUBERNETES_CONNECTION,
    Objects,
    Site,
    container_process,
    processes,
)
from farflow.manifests import manifests
from farflow.manifests.runtime import IMAGE_ENTRYPOINT
from farflow.plan.config import POD_TEMPLATE_FILE, SHARED_KEYS
from tests.unit.planning import OWNER, planned

pytestmark = pytest.mark.unit

DATABASE_URL = "postgresql+psycopg2://airflow:pw@127.0.0.1:5432/airflow"


def rendered(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The operator's manifests, plus the user's database Secret."""
    made = planned({"spec": spec})
    mirrored = {
        made.admin_password.name: {made.admin_password.key: "admin-password"},
        made.names.secrets: {key: f"generated-{key}" for key in SHARED_KEYS},
    }
    objects = manifests(made, OWNER, mirrored)
    database = made.secret_env[0].secret
    assert database is not None
    encoded = base64.b64encode(DATABASE_URL.encode()).decode()
    secret = {
        "kind": "Secret",
        "metadata": {"name": database.name},
        "data": {database.key: encoded},
    }
    return [secret, *objects]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(home=tmp_path, kubeconfig=tmp_path / "kubeconfig", env={"AWS_REGION": "eu-west-1"})


def by_name(objects: list[dict[str, Any]], site: Site) -> dict[str, Any]:
    return {p.name: p for p in processes(objects, Objects(objects), site)}


def test_every_workload_becomes_a_process_with_its_command(site: Site) -> None:
    objects = rendered({})
    local = by_name(objects, site)
    assert set(local) == {"migrate", "api-server", "scheduler", "dag-processor", "triggerer",
                          "worker"}  # fmt: skip
    assert local["scheduler"].argv == (*site.entrypoint, "airflow", "scheduler")
    assert local["api-server"].argv[len(site.entrypoint) :][:2] == ("airflow", "api-server")


def test_containers_without_a_command_run_under_the_image_entrypoint(site: Site) -> None:
    """As the kubelet runs them: the image's ENTRYPOINT (dumb-init as PID 1) with the
    container's args; only the image's /entrypoint script has a stand-in here."""
    assert site.entrypoint[:2] == IMAGE_ENTRYPOINT[:2] == ("/usr/bin/dumb-init", "--")
    stand_in = Path(site.entrypoint[2])
    assert IMAGE_ENTRYPOINT[2] == "/entrypoint"
    assert stand_in.is_file()
    assert stand_in.read_text().rstrip().endswith('exec "$@"')
    assert stand_in.stat().st_mode & 0o111
    with_command = {"containers": [{"name": "main", "command": ["sh"], "args": ["-c", "true"]}]}
    assert container_process(with_command, Objects([]), site).argv == ("sh", "-c", "true")


def test_env_comes_from_the_config_map_and_secret_references(site: Site) -> None:
    objects = rendered({})
    worker = by_name(objects, site)["worker"]
    config = next(m for m in objects if m["kind"] == "ConfigMap")["data"]
    assert worker.env["AIRFLOW__CELERY__BROKER_URL"] == config["AIRFLOW__CELERY__BROKER_URL"]
    assert worker.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == DATABASE_URL
    assert worker.env["AIRFLOW__CORE__FERNET_KEY"] == "generated-fernet-key"


def test_site_replaces_only_what_differs_off_cluster(site: Site) -> None:
    worker = by_name(rendered({}), site)["worker"]
    assert worker.env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://127.0.0.1:8080/execution/"
    )
    assert worker.env["AIRFLOW_HOME"] == str(site.home)
    assert worker.env["AWS_REGION"] == "eu-west-1"
    assert worker.env["AIRFLOW__KUBERNETES_EXECUTOR__IN_CLUSTER"] == "False"
    connection = json.loads(worker.env[KUBERNETES_CONNECTION])
    assert connection["extra"]["in_cluster"] is False
    assert connection["extra"]["kube_config_path"] == str(site.kubeconfig)
    assert connection["extra"]["namespace"] == "default"  # the operator's, kept


def test_config_map_volumes_are_written_and_their_paths_follow(site: Site) -> None:
    objects = rendered({"airflow": {"executors": ["Celery", "Kubernetes"]}})
    scheduler = by_name(objects, site)["scheduler"]
    template = Path(scheduler.env["AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE"])
    assert template == site.home / "mounts" / POD_TEMPLATE_FILE.lstrip("/")
    assert "kind: Pod" in template.read_text()


def test_references_expand_to_earlier_variables_and_unknown_ones_stay(site: Site) -> None:
    objects = [{"kind": "Secret", "metadata": {"name": "git"}, "stringData": {"user": "bob"}}]
    pod_spec = {
        "containers": [
            {
                "name": "main",
                "command": ["echo", "$(GREETING)"],
                "env": [
                    {"name": "USER", "valueFrom": {"secretKeyRef": {"name": "git", "key": "user"}}},
                    {"name": "GREETING", "value": "hello $(USER) from $(NOWHERE)"},
                ],
            }
        ]
    }
    local = container_process(pod_spec, Objects(objects), site)
    assert local.argv == ("echo", "hello bob from $(NOWHERE)")  # a command: no entrypoint


def test_a_missing_secret_key_names_the_secret_and_key(site: Site) -> None:
    pod_spec = {
        "containers": [
            {
                "name": "main",
                "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            }
        ]
    }
    with pytest.raises(KeyError, match="Secret s has no key k"):
        container_process(pod_spec, Objects([]), site)


def test_init_containers_come_first_resolved_as_their_pods_are(site: Site) -> None:
    local = by_name(rendered({}), site)
    for name in ("worker", "migrate"):
        [preflight] = local[name].init
        assert preflight.name == "preflight"
        assert preflight.argv == (*site.entrypoint, "python", "-m", "farflow_preflight")
        # The runtime ConfigMap is written where PYTHONPATH points, as its mount would be.
        python_path = Path(preflight.env["PYTHONPATH"])
        assert (python_path / "farflow_preflight.py").is_file()
    assert local["scheduler"].init == ()


def test_a_site_moves_the_ports_of_pods_that_share_its_machine(tmp_path: Path) -> None:
    """Every pod has its ports to itself; on one machine `farflow dev` moves them: the
    command line's --port, the settings that name them and the execution API's URL."""
    site = Site(home=tmp_path, ports={8080: 18080, 8974: 18974, 8793: 18793})
    local = by_name(rendered({}), site)
    api = local["api-server"]
    assert api.argv[len(site.entrypoint) :][:4] == ("airflow", "api-server", "--port", "18080")
    assert api.env["AIRFLOW__API__PORT"] == "18080"
    scheduler, worker = local["scheduler"], local["worker"]
    assert scheduler.env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] == "18974"
    assert worker.env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "18793"
    assert worker.env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://127.0.0.1:18080/execution/"
    )


def test_an_image_folder_of_the_site_is_its_local_stand_in(tmp_path: Path) -> None:
    """DAGs baked into the image are a local folder here: the DAG bundle's path follows,
    inside its JSON too, and a longer folder's name does not."""
    dags = tmp_path / "my dags"
    site = Site(home=tmp_path, image_paths={"/opt/airflow/dags": dags})
    processor = by_name(rendered({"dags": {"image": {}}}), site)["dag-processor"]
    [bundle] = json.loads(processor.env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    assert bundle["kwargs"]["path"] == str(dags)
    untouched = Site(home=tmp_path, image_paths={"/opt/airflow/dag": dags})
    processor = by_name(rendered({"dags": {"image": {}}}), untouched)["dag-processor"]
    assert "/opt/airflow/dags" in processor.env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"]


def test_probes_reach_the_ports_the_site_moved(tmp_path: Path) -> None:
    site = Site(home=tmp_path, ports={8080: 18080, 8793: 18793})
    local = by_name(rendered({}), site)
    assert local["api-server"].probes["startupProbe"]["httpGet"]["port"] == 18080
    readiness = local["worker"].probes["readinessProbe"]["exec"]["command"]
    assert readiness[-1] == "18793"
    assert set(local["scheduler"].probes) == {"startupProbe", "readinessProbe", "livenessProbe"}


def test_each_worker_pool_serves_its_logs_on_a_port_of_its_own_here(tmp_path: Path) -> None:
    site = Site(home=tmp_path, ports={8793: 18793})
    objects = rendered({"workers": {"pools": [{"name": "large", "queues": ["large"]}]}})
    local = {p.name: p for p in processes(objects, Objects(objects), site, own_log_port)}
    port = "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"
    assert local["worker"].env[port] == "18793"
    assert local["worker-large"].env[port] not in ("18793", "8793")
    readiness = local["worker-large"].probes["readinessProbe"]["exec"]["command"]
    assert readiness[-1] == local["worker-large"].env[port]
    assert local["scheduler"].env[port] == "18793"
