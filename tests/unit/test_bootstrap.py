"""spec.airflow's requirements, plugins and startup script: the bootstrap init container every
Airflow pod runs first, the startup script its container sources, a new object version that
rolls the pods, the same pods as local processes, and farflow_bootstrap itself with real pip
and real archives."""

from __future__ import annotations

import datetime
import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator
from kubernetes.client import ApiClient

from farflow.kube.observe import stalled, start_failure
from farflow.local import Objects, Site, container_process, processes
from farflow.manifests.runtime import IMAGE_ENTRYPOINT, STARTUP
from farflow.plan import plan
from farflow.runtime import farflow_startup
from farflow.runtime.farflow_bootstrap import BootstrapError, install, requirements_text, unpack
from tests.fixtures.wheels import build_wheel
from tests.unit.planning import built, cluster, facts, of_kind
from tests.unit.test_local import rendered

pytestmark = pytest.mark.unit

FOLDER = "/opt/farflow-bootstrap"
REQUIREMENTS = "s3://b/requirements.txt"
SCRIPT = {"bucket": "mwaa-assets", "key": "startup.sh", "version": "v1"}
BROUGHT = {
    "requirements": {"packages": ["farflow-e2e-extra==1.0"]},
    "plugins": {"bucket": "mwaa-assets", "key": "plugins.zip", "version": "p1"},
    "startupScript": SCRIPT,
}


def brought(airflow: dict[str, Any]) -> list[dict[str, Any]]:
    return built({"spec": {"airflow": airflow}})


def deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = of_kind(objects, "Deployment")
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in found}


def config(objects: list[dict[str, Any]]) -> dict[str, str]:
    [found] = [
        m for m in of_kind(objects, "ConfigMap") if m["metadata"]["name"].endswith("-config")
    ]
    return dict(found["data"])


def executor_pod_spec(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [found] = [
        m for m in of_kind(objects, "ConfigMap") if m["metadata"]["name"].endswith("template")
    ]
    pod = found["data"]["pod_template.yaml"]
    return dict(yaml.safe_load(pod)["spec"])


def test_a_cluster_that_brings_none_runs_no_bootstrap() -> None:
    objects = built()
    for spec in deployments(objects).values():
        assert "bootstrap" not in [c["name"] for c in spec.get("initContainers", [])]
        assert not [v for v in spec["volumes"] if "emptyDir" in v]
        assert spec["containers"][0]["args"][0] == "airflow"
    assert "AIRFLOW__CORE__PLUGINS_FOLDER" not in config(objects)


def test_every_airflow_pod_installs_them_first_and_sources_the_script() -> None:
    objects = brought(BROUGHT)
    assert config(objects)["PYTHONPATH"] == f"{FOLDER}/python:/opt/farflow"
    assert config(objects)["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{FOLDER}/plugins"
    specs = deployments(objects)
    assert set(specs) == {f"minimal-{c}" for c in ("api-server", "scheduler", "dag-processor",
                                                    "triggerer", "worker")}  # fmt: skip
    for name, spec in specs.items():
        init = spec["initContainers"][0]
        assert init["name"] == "bootstrap", name
        assert init["args"] == ["python", "-m", "farflow_bootstrap"]
        assert init["terminationMessagePolicy"] == "FallbackToLogsOnError"
        env = {e["name"]: e for e in init["env"]}
        assert json.loads(env["FARFLOW_BOOTSTRAP"]["value"]) == BROUGHT
        assert not [e for e in init["env"] if "valueFrom" in e]  # no Secret reaches it
        main = spec["containers"][0]
        assert main["args"][: len(STARTUP)] == list(STARTUP)
        assert main["args"][len(STARTUP)] == "airflow"
        assert {
            "name": "FARFLOW_STARTUP_SCRIPT",
            "value": "/opt/farflow-bootstrap/startup.sh",
        } in main["env"]
        mount = {
            "name": "farflow-bootstrap",
            "mountPath": "/opt/farflow-bootstrap",
            "readOnly": True,
        }
        assert mount in main["volumeMounts"]
        assert {"name": "farflow-bootstrap", "emptyDir": {}} in spec["volumes"]
    assert [c["name"] for c in specs["minimal-worker"]["initContainers"]] == [
        "bootstrap",
        "preflight",
    ]
    for job in of_kind(objects, "Job"):  # migrations need none of them
        assert "bootstrap" not in [
            c["name"] for c in job["spec"]["template"]["spec"]["initContainers"]
        ]


def test_kubernetes_executor_pods_install_them_and_source_the_script_before_the_task(
    tmp_path: Path,
) -> None:
    """Airflow's own pod generator merges the task's args into the template: the command
    keeps the image's entrypoint and the script's runner, and the task comes after it."""
    objects = rendered({"airflow": {**BROUGHT, "executors": ["Celery", "Kubernetes"]}})
    template = {"apiVersion": "v1", "kind": "Pod", "spec": executor_pod_spec(objects)}
    task = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"]
    pod = PodGenerator.construct_pod(
        dag_id="d", task_id="t", pod_id="p", try_number=1, kube_image="image:1",
        date=None, args=task, pod_override_object=None, namespace="tasks",
        base_worker_pod=PodGenerator.deserialize_model_dict(template), scheduler_job_id="1",
    )  # fmt: skip
    spec = ApiClient().sanitize_for_serialization(pod)["spec"]
    assert spec["initContainers"][0]["name"] == "bootstrap"
    [base] = spec["containers"]
    assert base["command"] == [*IMAGE_ENTRYPOINT, *STARTUP]
    assert base["args"] == task
    assert "FARFLOW_STARTUP_SCRIPT" in {e["name"] for e in base["env"]}
    site = Site(home=tmp_path)
    local = container_process(spec, Objects(objects), site, pod="p")
    assert local.argv == (*site.entrypoint, *STARTUP, *task)  # the stand-in entrypoint here


def test_a_new_object_version_rolls_every_pod() -> None:
    before = deployments(brought(BROUGHT))
    after = deployments(brought({**BROUGHT, "startupScript": {**SCRIPT, "version": "v2"}}))
    for name, spec in before.items():
        assert spec != after[name], name


def test_objects_that_name_no_version_are_read_as_the_operator_pinned_them() -> None:
    """The pins gather found go into what every pod fetches, so a new upload (a new pin)
    rolls the pods; an object the spec pins itself keeps its version."""
    unpinned = {"bucket": "mwaa-assets", "key": "startup.sh"}
    made = cluster({"spec": {"airflow": {**BROUGHT, "startupScript": unpinned}}})
    pins = {
        "s3://mwaa-assets/startup.sh": {"etag": '"e1"'},
        "s3://mwaa-assets/plugins.zip": {"etag": '"not-used"'},  # its version is the spec's
    }
    fetched = json.loads(plan(made, replace(facts(), bootstrap_pins=pins)).bootstrap or "")
    assert fetched["startupScript"] == {
        "bucket": "mwaa-assets",
        "key": "startup.sh",
        "etag": '"e1"',
    }
    assert fetched["plugins"] == BROUGHT["plugins"]
    newer = {**pins, "s3://mwaa-assets/startup.sh": {"etag": '"e2"'}}
    assert plan(made, replace(facts(), bootstrap_pins=newer)).bootstrap != json.dumps(fetched)


def test_the_local_processes_share_the_pods_folder_and_find_it_on_their_path(
    tmp_path: Path,
) -> None:
    objects = rendered({"airflow": BROUGHT})
    local = {p.name: p for p in processes(objects, Objects(objects), Site(home=tmp_path))}
    worker = local["worker"]
    [bootstrap, _] = worker.init
    folder = bootstrap.env["FARFLOW_BOOTSTRAP_DIR"]
    assert folder.startswith(str(tmp_path))
    assert Path(folder).is_dir()
    assert worker.env["FARFLOW_STARTUP_SCRIPT"] == f"{folder}/startup.sh"
    python_path = worker.env["PYTHONPATH"].split(":")
    assert python_path[0] == f"{folder}/python"
    assert Path(python_path[1]).is_dir()  # the runtime modules' folder, written here
    assert worker.env["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{folder}/plugins"
    scheduler_folder = local["scheduler"].init[0].env["FARFLOW_BOOTSTRAP_DIR"]
    assert scheduler_folder != folder  # a pod's emptyDir is its own


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local index of one wheel, the only one pip may read."""
    folder = tmp_path / "wheels"
    source = {"farflow_e2e_extra/__init__.py": "GREETING = 'hello from a requirement'\n"}
    build_wheel(folder, "farflow_e2e_extra", "1.0", source)
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    return folder


def test_requirements_are_installed_where_python_finds_them(tmp_path: Path, wheels: Path) -> None:
    install(*requirements_text({"packages": ["farflow-e2e-extra==1.0"]}), tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "python")}
    imported = subprocess.run(
        [sys.executable, "-c", "import farflow_e2e_extra as m; print(m.GREETING)"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert imported.stdout.strip() == "hello from a requirement"


def test_a_requirement_that_cannot_be_found_is_named_with_its_line(
    tmp_path: Path, wheels: Path
) -> None:
    with pytest.raises(BootstrapError) as raised:
        install(
            "farflow-e2e-extra==1.0\nno-such-package==2.0\n", "s3://b/requirements.txt", tmp_path
        )
    said = str(raised.value)
    assert said.startswith(
        f"the requirements of {REQUIREMENTS}, line 2: no-such-package==2.0 cannot be installed:"
    )
    assert "No matching distribution found for no-such-package==2.0" in said


def test_a_requirement_that_would_move_a_package_of_the_image_is_refused(
    tmp_path: Path, wheels: Path
) -> None:
    build_wheel(wheels, "pyyaml", "1.0", {"yaml/__init__.py": ""})
    with pytest.raises(BootstrapError) as raised:
        install("pyyaml==1.0\n", "spec.airflow.requirements", tmp_path)
    assert "The user requested (constraint) pyyaml==" in str(raised.value)
    assert not (tmp_path / "python").exists()


def test_plugins_are_unpacked_and_a_file_that_is_no_archive_is_named(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as plugins:
        plugins.writestr("macros/greeting.py", "GREETING = 'hi'\n")
    unpack(archive.getvalue(), "s3://b/plugins.zip", tmp_path)
    assert (tmp_path / "plugins" / "macros" / "greeting.py").read_text() == "GREETING = 'hi'\n"
    with pytest.raises(BootstrapError, match=r"the plugins s3://b/broken.zip do not unpack"):
        unpack(b"not a zip", "s3://b/broken.zip", tmp_path)


def started(tmp_path: Path, script: str, *command: str) -> subprocess.CompletedProcess[str]:
    """farflow_startup, as the container's first process, with ``script`` as the startup
    script and ``command`` as the component."""
    path = tmp_path / "startup.sh"
    path.write_text(script)
    env = {"PATH": os.environ["PATH"], "FARFLOW_STARTUP_SCRIPT": str(path),
           "FARFLOW_STARTUP_SOURCE": "s3://mwaa-assets/startup.sh"}  # fmt: skip
    argv = [sys.executable, farflow_startup.__file__, *command]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def test_the_component_sees_what_the_startup_script_exports(tmp_path: Path) -> None:
    script = "echo preparing\nexport GREETING='hello from startup'\n"
    done = started(tmp_path, script, "sh", "-c", 'echo "$GREETING"')
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello from startup\n"  # the script's own output is on stderr
    assert "preparing" in done.stderr


def test_a_failing_startup_script_stops_the_component_with_its_line(tmp_path: Path) -> None:
    done = started(tmp_path, "export A=1\nno-such-command\nexit 4\n", "sh", "-c", "echo started")
    assert done.returncode == 4
    assert "started" not in done.stdout
    assert "the startup script s3://mwaa-assets/startup.sh exited 4:" in done.stderr
    assert "line 2: no-such-command: command not found" in done.stderr


def pod(name: str, created: str, init: list[dict[str, Any]]) -> dict[str, Any]:
    meta = {"name": name, "creationTimestamp": created}
    return {"metadata": meta, "status": {"initContainerStatuses": init, "containerStatuses": []}}


def test_the_newest_pod_that_fails_says_which_container_and_why() -> None:
    message = "the requirements of s3://b/requirements.txt, line 2: x==9 cannot be installed"
    failing = {"name": "bootstrap", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
               "lastState": {"terminated": {"exitCode": 1, "message": message}}}  # fmt: skip
    done = {"name": "bootstrap", "state": {"terminated": {"exitCode": 0}}}
    pods = [
        pod("old", "2026-12-01T10:00:00Z", [done]),
        pod("new", "2026-12-01T11:00:00Z", [failing]),
    ]
    assert start_failure(pods) == f"pod new: bootstrap exited 1: {message}"
    assert start_failure([pods[0]]) is None


def test_only_a_deployment_without_progress_for_a_while_is_looked_into() -> None:
    now = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)

    def deployment(updated: str) -> dict[str, Any]:
        progressing = {"type": "Progressing", "status": "True", "lastUpdateTime": updated}
        return {"status": {"conditions": [progressing]}}

    assert stalled(deployment("2026-12-01T11:59:00Z"), now)
    assert not stalled(deployment("2026-12-01T11:59:50Z"), now)
    assert not stalled({"status": {}}, now)
