"""`farflow dev`, the command users run: up --detach to a healthy UI, DAGs through SQS and
Celery, a DAG file added while it runs, status, a restarted scheduler, down leaving nothing,
a second up with the earlier history, and the messages of a busy port and a locked state
directory."""

from __future__ import annotations

import os
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, expect

from farflow.local.process import tail
from tests.cases import DEV, ROOT, load
from tests.dev.dev_cluster import DevCluster
from tests.e2e.browser import log_in, screenshot
from tests.fixtures.postgres import Postgres
from tests.fixtures.processes import answers, free_port, wait_until

pytestmark = pytest.mark.e2e

COMPONENTS = ("postgres", "aws", "api-server", "scheduler", "dag-processor", "triggerer", "worker")
ADDED_DAG = Path(__file__).with_name("dev_dags") / "dev_added.py"
RUN_TIMEOUT = 300


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    dags = tmp_path_factory.mktemp("dev-dags")
    shutil.copytree(ROOT / "airflow" / "dags", dags, dirs_exist_ok=True)
    cluster = DevCluster(tmp_path_factory.mktemp("dev-state"), dags, free_port())
    try:
        yield cluster
    finally:
        down = cluster.farflow("down", "--purge")
        print(down.stdout, down.stderr)


def test_a_database_secret_beside_the_cluster_is_used_and_no_postgresql_started(
    postgres: Postgres, tmp_path: Path
) -> None:
    own = postgres.with_database("dev_own")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "airflow-db"},
              "stringData": {"connection": own.sqlalchemy_url}}  # fmt: skip
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(yaml.safe_dump_all([load(DEV), secret]))
    shutil.copytree(ROOT / "airflow" / "dags", tmp_path / "dags")
    cluster = DevCluster(tmp_path / "state", tmp_path / "dags", free_port(), manifest=manifest)
    try:
        result = cluster.up()
        assert result.returncode == 0, result.stdout + result.stderr
        log = (cluster.state_dir / "logs" / "up.log").read_text()
        assert "using the database of the Secret airflow-db" in log
        assert own.password not in result.stdout + result.stderr + log
        health = cluster.api.request("GET", "/api/v2/monitor/health")
        assert health["metadatabase"]["status"] == "healthy"
        started = {process["name"] for process in cluster.state()["processes"]}
        assert "aws" in started
        assert "postgres" not in started
        own.psql("-d", "dev_own", "-c", "SELECT version_num FROM alembic_version")  # migrated
    finally:
        print(cluster.farflow("down", "--purge").stdout)


def run_to_success(dev: DevCluster, dag_id: str) -> str:
    dev.api.unpause(dag_id)
    run_id = dev.api.trigger(dag_id)
    try:
        state = dev.api.wait_for_run(dag_id, run_id, RUN_TIMEOUT)
    except TimeoutError as error:  # with what the worker and the scheduler said meanwhile
        said = [f"--- {n}:\n{tail(Path(dev.component(n)['log']))}" for n in ("worker", "scheduler")]
        raise TimeoutError("\n".join([str(error), *said])) from None
    assert state == "success", dev.api.task_states(dag_id, run_id)
    return run_id


def test_up_detached_reaches_a_healthy_ui(dev: DevCluster) -> None:
    result = dev.up()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Airflow is up at http://localhost:{dev.port}" in result.stdout
    assert "user admin" in result.stdout
    assert dev.password
    assert answers(dev.health_url)
    health = dev.api.request("GET", "/api/v2/monitor/health")
    assert health["metadatabase"]["status"] == "healthy"
    assert health["scheduler"]["status"] == "healthy"


def test_status_shows_every_component_running(dev: DevCluster) -> None:
    dev.ensure_up()
    status = dev.farflow("status")
    assert status.returncode == 0, status.stderr
    rows = {line.split("│")[1].strip(): line for line in status.stdout.splitlines() if "│" in line}
    for name in COMPONENTS:
        assert "running" in rows[name], status.stdout
    assert dev.password not in status.stdout
    shown = dev.farflow("status", "--show-password")
    assert f"password {dev.password}" in shown.stdout


def test_the_declared_variable_is_in_airflow_before_up_says_it_is_up(dev: DevCluster) -> None:
    dev.ensure_up()
    variable = dev.api.request("GET", "/api/v2/variables/data_bucket")
    assert variable["value"] == "farflow-example-data"
    assert variable["description"].startswith("the bucket etl_celery reads")
    assert "as declared" in (dev.state_dir / "logs" / "up.log").read_text()


def test_etl_celery_runs_on_the_worker_through_sqs(dev: DevCluster) -> None:
    dev.ensure_up()  # its orders' bucket is the declared variable data_bucket
    run_id = run_to_success(dev, "etl_celery")
    assert dev.api.task_states("etl_celery", run_id) == dict.fromkeys(
        ("extract", "transform", "load"), "success"
    )
    assert "etl_celery" in Path(dev.component("worker")["log"]).read_text()
    sqs = dev.aws("sqs")  # every message of the operator's queues was consumed
    for queue_url in sqs.list_queues()["QueueUrls"]:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0", queue_url
    s3 = dev.aws("s3")
    summary = f"output/etl_celery/{run_id}/summary.json"
    assert s3.head_object(Bucket="farflow-example-data", Key=summary)


def test_the_browser_logs_in_with_the_printed_password_and_sees_the_run(
    dev: DevCluster, page: Page
) -> None:
    dev.ensure_up()
    runs = dev.api.request("GET", "/api/v2/dags/etl_celery/dagRuns")["dag_runs"]
    run_id = runs[-1]["dag_run_id"] if runs else run_to_success(dev, "etl_celery")
    log_in(page, dev.url, "admin", dev.password)
    page.goto(f"{dev.url}/dags/etl_celery/runs")
    expect(page.get_by_text(run_id).first).to_be_visible(timeout=60_000)
    screenshot(page, "dev-ui-runs")


def test_a_dag_file_copied_into_the_folder_is_parsed_and_runs(dev: DevCluster) -> None:
    dev.ensure_up()
    assert dev.api.dag("dev_added") is None
    dev.add_dag(ADDED_DAG)
    wait_until(lambda: dev.api.dag("dev_added") is not None, 120, "dev_added parsed", 1)
    run_to_success(dev, "dev_added")


def test_a_killed_scheduler_is_started_again(dev: DevCluster) -> None:
    dev.ensure_up()
    before = dev.component("scheduler")
    os.kill(before["pid"], signal.SIGKILL)

    def restarted() -> bool:
        now = dev.component("scheduler")
        return bool(now["pid"] != before["pid"] and now["state"] == "running")

    wait_until(restarted, 120, "the scheduler started again", 1)
    after = dev.component("scheduler")
    assert after["restarts"] == before["restarts"] + 1
    assert after["last_error"].startswith("exit -9")
    status = dev.farflow("status").stdout
    assert "scheduler" in status
    wait_until(lambda: _scheduler_healthy(dev), 120, "the new scheduler's heartbeat", 2)


def _scheduler_healthy(dev: DevCluster) -> bool:
    health = dev.api.request("GET", "/api/v2/monitor/health")
    return bool(health["scheduler"]["status"] == "healthy")


def test_down_leaves_no_process_of_ours(dev: DevCluster) -> None:
    dev.ensure_up()
    ours = dev.ours()
    assert len(ours) > len(COMPONENTS)  # the components' children are among them
    result = dev.farflow("down")
    assert result.returncode == 0, result.stderr
    wait_until(lambda: not any(r.process() for r in ours), 60, "every process gone", 1)
    assert not answers(dev.health_url)
    assert dev.farflow("status").returncode == 3  # recorded, not running


def test_a_second_up_keeps_the_runs_and_the_password(dev: DevCluster) -> None:
    dev.ensure_up()
    password = dev.password
    dag_id = "etl_celery"
    run_id = run_to_success(dev, dag_id)
    assert dev.farflow("down").returncode == 0
    result = dev.up()
    assert result.returncode == 0, result.stdout + result.stderr
    assert dev.password == password
    runs = dev.api.request("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
    assert (run_id, "success") in [(r["dag_run_id"], r["state"]) for r in runs]


def test_a_second_up_on_the_same_state_directory_names_the_first(dev: DevCluster) -> None:
    dev.ensure_up()
    second = dev.farflow("up", "--port", str(free_port()), "--dags", str(dev.dags))
    assert second.returncode == 1
    holder = dev.state()["pid"]
    assert f"is in use by another `farflow dev up` (PID {holder})" in second.stderr
    assert "farflow dev down" in second.stderr


def test_a_busy_port_names_the_process_that_holds_it(tmp_path: Path) -> None:
    other = DevCluster(tmp_path / "state", ROOT / "airflow" / "dags", free_port())
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", other.port))
        holder.listen()
        result = other.up()
    assert result.returncode == 1
    expected = f"port {other.port} is in use by PID {os.getpid()} ("
    assert expected in result.stderr, result.stderr
    assert "--port" in result.stderr
    assert not (tmp_path / "state" / "state.json").exists()  # nothing was started


def test_a_missing_dag_folder_is_named_with_the_option(tmp_path: Path) -> None:
    other = DevCluster(tmp_path / "state", tmp_path / "no-dags", free_port())
    result = other.up()
    assert result.returncode == 1
    assert f"the DAG folder {tmp_path / 'no-dags'} does not exist" in result.stderr
    assert "--dags" in result.stderr
