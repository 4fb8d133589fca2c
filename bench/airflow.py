"""Airflow as FarFlow renders it, run by `farflow dev` (the operator's own plan, PostgreSQL,
moto's SQS, the components as processes): a chain of 10 no-op tasks and a fan-out of 50 on
one worker of concurrency 5, with Airflow's and kombu's defaults for the waits FarFlow
shortens (farflow.plan.config._latency) beside FarFlow's values, in the same run."""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from airflow_client import client as airflow
from kombu.transport import SQS
from rich.progress import Progress

from bench.report import Table, p50_p95, seconds
from farflow.airflow_api import TIMEOUT, Endpoint, signed_in
from tests.cases import DEV, load
from tests.e2e.dev_cluster import DevCluster
from tests.fixtures.processes import free_port, wait_until

DAGS = Path(__file__).with_name("dags")
CHAIN, FAN_OUT = "bench_chain", "bench_fan_out"
RUN_TIMEOUT = 600.0
COMMAND = "make bench ROWS=airflow"
Config = dict[str, dict[str, str]]


def _airflow_defaults(*options: tuple[str, str]) -> Config:
    """Options' defaults as Airflow's own config.yml gives them (read, not imported: importing
    airflow.configuration would write an airflow.cfg)."""
    spec = importlib.util.find_spec("airflow")
    assert spec is not None
    assert spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0], "config_templates", "config.yml")
    config = yaml.safe_load(path.read_text())
    defaults: Config = {}
    for section, key in options:
        defaults.setdefault(section, {})[key] = str(config[section]["options"][key]["default"])
    return defaults


def peers() -> dict[str, Config]:
    """spec.airflow.config of each peer; the worker and the DAG folder are the same for all.
    The first puts back Airflow's and kombu's defaults for every wait FarFlow shortens."""
    defaults = _airflow_defaults(
        ("scheduler", "scheduler_idle_sleep_time"), ("workers", "min_heartbeat_interval")
    )
    defaults["celery_broker_transport_options"] = {
        "polling_interval": str(SQS.Transport.polling_interval),
        "wait_time_seconds": str(SQS.Channel.default_wait_time_seconds),
    }
    return {
        "Airflow's and kombu's defaults": defaults,
        "FarFlow's rendered configuration": {},
        "FarFlow's, with heartbeats every 1 s": {"workers": {"min_heartbeat_interval": "1"}},
    }


@dataclass
class Run:
    """One DAG run as Airflow recorded it, and the wall time from trigger to its end."""

    seconds: float
    tasks: list[dict[str, Any]]


def run(samples: int, progress: Progress) -> list[Table]:
    """Each peer's cluster up in turn, ``samples`` runs of each DAG on it."""
    measured: dict[str, dict[str, list[Run]]] = {}
    configured = peers()
    for peer, config in configured.items():
        task = progress.add_task(f"airflow: {peer}", total=2 * samples + 1)
        with _cluster(config) as api:
            progress.advance(task)
            measured[peer] = {}
            for dag_id in (CHAIN, FAN_OUT):
                measured[peer][dag_id] = []
                for _ in range(samples):
                    measured[peer][dag_id].append(_run(api, dag_id))
                    progress.advance(task)
    return [_table(measured, configured, samples)]


@contextmanager
def _cluster(config: Config) -> Iterator[airflow.ApiClient]:
    """`farflow dev up --detach` of the dev example with ``config`` and the bench DAGs;
    down and purged afterwards."""
    with tempfile.TemporaryDirectory(prefix="farflow-bench-") as folder:
        root = Path(folder)
        manifest = load(DEV)
        manifest["spec"]["workers"] = {"concurrency": 5}
        manifest["spec"]["airflow"]["config"].update(config)
        (root / "cluster.yaml").write_text(yaml.safe_dump(manifest))
        shutil.copytree(DAGS, root / "dags", ignore=shutil.ignore_patterns("__pycache__"))
        dev = DevCluster(root / "state", root / "dags", free_port(), root / "cluster.yaml")
        try:
            started = dev.up()
            assert started.returncode == 0, started.stdout + started.stderr
            api = signed_in(Endpoint(dev.url, "admin", dev.password))
            for dag_id in (CHAIN, FAN_OUT):
                wait_until(partial(_parsed, api, dag_id), 120, f"{dag_id} parsed", 1)
                airflow.DAGApi(api).patch_dag(dag_id, airflow.DAGPatchBody(is_paused=False))
            yield api
        finally:
            dev.farflow("down", "--purge")


def _parsed(api: airflow.ApiClient, dag_id: str) -> bool:
    answer = airflow.DAGApi(api).get_dag_without_preload_content(dag_id, _request_timeout=TIMEOUT)
    return bool(answer.status == 200)


def _run(api: airflow.ApiClient, dag_id: str) -> Run:
    """A triggered run to its end; its task instances as Airflow recorded them."""
    runs = airflow.DagRunApi(api)
    started = time.monotonic()
    run_id = runs.trigger_dag_run(dag_id, airflow.TriggerDAGRunPostBody()).dag_run_id

    def ended() -> bool:
        answer = runs.get_dag_run_without_preload_content(dag_id, run_id)
        return json.loads(answer.data)["state"] in ("success", "failed")

    wait_until(ended, RUN_TIMEOUT, f"{dag_id} {run_id} ending", 0.1)
    took = time.monotonic() - started
    answer = airflow.TaskInstanceApi(api).get_task_instances_without_preload_content(
        dag_id, run_id, limit=100
    )
    tasks = json.loads(answer.data)["task_instances"]
    assert {t["state"] for t in tasks} == {"success"}, [(t["task_id"], t["state"]) for t in tasks]
    return Run(took, tasks)


def _at(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _gaps(run: Run) -> list[float]:
    """In a chain: from each task's end to the next one's start."""
    ordered = sorted(run.tasks, key=lambda t: t["task_id"])
    return [_at(b["start_date"]) - _at(a["end_date"]) for a, b in pairwise(ordered)]


def _waits(run: Run) -> list[float]:
    """In a fan-out: from each task queued to it running."""
    return [_at(t["start_date"]) - _at(t["queued_when"]) for t in run.tasks]


def _table(
    measured: dict[str, dict[str, list[Run]]], configured: dict[str, Config], samples: int
) -> Table:
    table = Table(
        "Airflow on FarFlow's rendered configuration (`farflow dev`, one worker of concurrency 5)",
        ("peer", "chain: trigger → success (p50)", "task end → next start (p50, p95)",
         "fan-out: trigger → success (p50)", "queued → running (p50, p95)", "command"),
    )  # fmt: skip
    for peer, runs in measured.items():
        chain, fan_out = runs[CHAIN], runs[FAN_OUT]
        gaps = p50_p95([gap for run in chain for gap in _gaps(run)])
        waits = p50_p95([wait for run in fan_out for wait in _waits(run)])
        table.rows.append((
            peer,
            seconds(p50_p95([r.seconds for r in chain])[0]),
            f"{seconds(gaps[0])}, {seconds(gaps[1])}",
            seconds(p50_p95([r.seconds for r in fan_out])[0]),
            f"{seconds(waits[0])}, {seconds(waits[1])}",
            f"`{COMMAND}`",
        ))  # fmt: skip
        table.samples[f"{peer}: chain"] = [r.seconds for r in chain]
        table.samples[f"{peer}: fan-out"] = [r.seconds for r in fan_out]
    table.notes = [
        f"{samples} runs of each DAG per peer (bench/dags). The peers differ only in "
        "spec.airflow.config: "
        + "; ".join(f"{peer}: {json.dumps(config)}" for peer, config in configured.items()),
    ]
    return table
