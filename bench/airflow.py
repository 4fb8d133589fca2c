"""Airflow as FarFlow renders it, run by `farflow dev` (the operator's own plan, PostgreSQL,
moto's SQS, the components as processes): a chain of 10 no-op tasks and a fan-out of 50 on
one worker of concurrency 5, with Airflow's and kombu's defaults for the waits FarFlow
shortens (farflow.plan.config._latency) beside FarFlow's values, in the same run. Before the
runs, each peer idles: the SQS requests moto's recorder saw meanwhile (the cost of an idle
worker), and each component's memory; the memory peaks again under the fan-out."""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from airflow_client import client as airflow
from kombu.transport import SQS
from rich.progress import Progress, TaskID

from bench.report import Table, p50_p95, pause, seconds, tally
from farflow.airflow_api import TIMEOUT, Endpoint, signed_in
from tests.cases import DEV, load
from tests.dev.dev_cluster import DevCluster
from tests.e2e.memory import MemorySampler, Usage, container_memory_mib, tree_usage
from tests.fixtures.aws_proxy import operation_of
from tests.fixtures.processes import free_port, wait_until

DAGS = Path(__file__).with_name("dags")
CHAIN, FAN_OUT = "bench_chain", "bench_fan_out"
RUN_TIMEOUT = 600.0
COMMAND = "make bench ROWS=airflow"
RENDERED = "FarFlow's rendered configuration"
SIZE = "small"  # the dev example's, whose worker concurrency (5) the bench keeps
RECORDING = "moto-recording.jsonl"  # moto's server writes every request it serves here
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
        RENDERED: {},
        "FarFlow's, with heartbeats every 1 s": {"workers": {"min_heartbeat_interval": "1"}},
    }


@dataclass
class Run:
    """One DAG run as Airflow recorded it, and the wall time from trigger to its end."""

    seconds: float
    tasks: list[dict[str, Any]]


@dataclass
class Measured:
    """One peer's numbers."""

    runs: dict[str, list[Run]] = field(default_factory=dict)  # by DAG
    idle_sqs: list[str] = field(default_factory=list)  # the SQS actions called
    idle_memory: dict[str, Usage] = field(default_factory=dict)  # by component
    fan_out_memory: dict[str, Usage] = field(default_factory=dict)  # the peaks


def run(samples: int, idle_seconds: int, progress: Progress) -> list[Table]:
    """Each peer's cluster up in turn: idle for ``idle_seconds``, then ``samples`` runs of
    each DAG."""
    measured: dict[str, Measured] = {}
    configured = peers()
    for peer, config in configured.items():
        task = progress.add_task(f"airflow: {peer}", total=2 * samples + 1 + idle_seconds)
        with _cluster(config) as (dev, api):
            progress.advance(task)
            measured[peer] = _measure(dev, api, samples, idle_seconds, progress=progress, task=task)
    return [
        _table(measured, configured, samples),
        _idle_table(measured, idle_seconds),
        _memory_table(measured[RENDERED], samples),
    ]


def _measure(
    dev: DevCluster,
    api: airflow.ApiClient,
    samples: int,
    idle_seconds: int,
    *,
    progress: Progress,
    task: TaskID,
) -> Measured:
    found = Measured()
    recording = dev.state_dir.parent / RECORDING
    before = len(_recorded(recording))
    pause(progress, task, idle_seconds)  # the window measured: what an idle cluster costs
    found.idle_sqs = [a for a in _recorded(recording)[before:] if a.startswith("sqs:")]
    found.idle_memory = {name: tree_usage(pid) for name, pid in _components(dev).items()}
    advance = partial(progress.advance, task)
    found.runs[CHAIN] = _runs(api, CHAIN, samples, advance)
    with MemorySampler(partial(_components, dev)) as sampler:
        found.runs[FAN_OUT] = _runs(api, FAN_OUT, samples, advance)
    found.fan_out_memory = sampler.peaks
    return found


def _runs(
    api: airflow.ApiClient, dag_id: str, samples: int, advance: Callable[[], None]
) -> list[Run]:
    runs = []
    for _ in range(samples):
        runs.append(_run(api, dag_id))
        advance()
    return runs


def _recorded(recording: Path) -> list[str]:
    """The action of every request moto's server recorded, in order."""
    actions = []
    for line in recording.read_text().splitlines():
        entry = json.loads(line)
        body = entry["body"] or ""
        raw = base64.b64decode(body) if entry["body_encoded"] else body.encode()
        url = urlsplit(entry["url"])
        headers = {name.lower(): value for name, value in entry["headers"].items()}
        actions.append(operation_of(entry["method"], url.path, url.query, headers, raw))
    return actions


def _components(dev: DevCluster) -> dict[str, int]:
    """Each running Airflow component's main process."""
    containers = container_memory_mib(SIZE)
    rows = dev.state()["processes"]
    return {row["name"]: row["pid"] for row in rows if row["name"] in containers and row["pid"]}


@contextmanager
def _cluster(config: Config) -> Iterator[tuple[DevCluster, airflow.ApiClient]]:
    """`farflow dev up --detach` of the dev example with ``config`` and the bench DAGs, its
    embedded AWS recording every request; down and purged afterwards."""
    with tempfile.TemporaryDirectory(prefix="farflow-bench-") as folder:
        root = Path(folder)
        manifest = load(DEV)
        manifest["spec"]["workers"] = {"concurrency": 5}
        manifest["spec"]["airflow"]["config"].update(config)
        (root / "cluster.yaml").write_text(yaml.safe_dump(manifest))
        shutil.copytree(DAGS, root / "dags", ignore=shutil.ignore_patterns("__pycache__"))
        recording = {"MOTO_ENABLE_RECORDING": "1", "MOTO_RECORDER_FILEPATH": str(root / RECORDING)}
        dev = DevCluster(root / "state", root / "dags", free_port(), root / "cluster.yaml",
                         env=recording)  # fmt: skip
        try:
            started = dev.up()
            assert started.returncode == 0, started.stdout + started.stderr
            api = signed_in(Endpoint(dev.url, "admin", dev.password))
            for dag_id in (CHAIN, FAN_OUT):
                wait_until(partial(_parsed, api, dag_id), 120, f"{dag_id} parsed", 1)
                airflow.DAGApi(api).patch_dag(dag_id, airflow.DAGPatchBody(is_paused=False))
            yield dev, api
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


def _table(measured: dict[str, Measured], configured: dict[str, Config], samples: int) -> Table:
    table = Table(
        "Airflow on FarFlow's rendered configuration (`farflow dev`, one worker of concurrency 5)",
        ("peer", "chain: trigger → success (p50)", "task end → next start (p50, p95)",
         "fan-out: trigger → success (p50)", "queued → running (p50, p95)", "command"),
    )  # fmt: skip
    for peer, found in measured.items():
        chain, fan_out = found.runs[CHAIN], found.runs[FAN_OUT]
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


def _idle_table(measured: dict[str, Measured], idle_seconds: int) -> Table:
    table = Table(
        "SQS requests of an idle cluster (one worker), per hour",
        ("peer", "SQS requests per hour", "of them, in the window", "command"),
    )
    for peer, found in measured.items():
        per_hour = len(found.idle_sqs) * 3600 / idle_seconds
        of_them = tally([action.split(":")[1] for action in found.idle_sqs])
        table.rows.append((peer, f"{per_hour:.0f}", of_them, f"`{COMMAND}`"))
    table.notes = [
        f"Every SQS request moto's server recorded in {idle_seconds} s with no DAG running "
        "(MOTO_ENABLE_RECORDING), after the bench DAGs were parsed; SQS bills per request."
    ]
    return table


def _memory_table(found: Measured, samples: int) -> Table:
    table = Table(
        f"Memory per component ({RENDERED})",
        ("component", "idle RSS", "idle PSS", "fan-out peak RSS", "fan-out peak PSS",
         f"container on `{SIZE}`", "peak PSS / container", "command"),
    )  # fmt: skip
    for name, limit in container_memory_mib(SIZE).items():
        idle, peak = found.idle_memory.get(name, Usage()), found.fan_out_memory.get(name, Usage())
        table.rows.append((
            name, _mib(idle.rss_kib), _mib(idle.pss_kib), _mib(peak.rss_kib),
            _mib(peak.pss_kib), f"{limit} MiB", f"{peak.pss_kib / 1024 / limit:.0%}",
            f"`{COMMAND}`",
        ))  # fmt: skip
    table.notes = [
        "Each component's process tree (tests/e2e/memory.py): RSS counts a shared page once "
        "per process (the forked Celery pool, Airflow's task supervisors), PSS splits it "
        "among them, as the container's cgroup is charged. Idle: at the end of the idle "
        f"window; peak: sampled every 2 s through {samples} fan-out runs of 50 tasks on one "
        "worker of concurrency 5 (the small preset's)."
    ]
    return table


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"
