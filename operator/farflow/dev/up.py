"""`farflow dev up`: the cluster of a manifest on this machine, supervised until Ctrl-C (or
`farflow dev down`), with everything it started stopped on the way out."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import boto3
from rich.console import Console
from rich.live import Live
from rich.markup import escape

from farflow import airflow_api, airflow_objects
from farflow.api.names import named_pool
from farflow.api.resolve import ResolvedCluster
from farflow.api.status import AirflowObjectsStatus
from farflow.aws import secrets
from farflow.aws.facts import Known
from farflow.dev import checks
from farflow.dev.cluster import NotReadyError, Rendered, render
from farflow.dev.display import table
from farflow.dev.services import Aws, start_aws, start_database
from farflow.dev.state import DevDir, DevError, Recorded, kill_all
from farflow.dev.supervisor import Supervised, Supervisor
from farflow.local import STAND_INS, LocalProcess, Objects, Site, processes
from farflow.local.process import FailedError, answers, free_port, tail
from farflow.manifests.runtime import IMAGE_ENTRYPOINT
from farflow.objects import COMPONENT_LABEL, Manifest, Owner
from farflow.plan.config import API_PORT, SCHEDULER_HEALTH_PORT, WORKER_LOG_PORT, env_name
from farflow.render import UNKNOWN_UID

READY_TIMEOUT = 300.0  # seconds for the UI to answer once the components run
REGION = "us-east-1"  # when the manifest names none
# What stops `up` with a message rather than a traceback.
STOPPING = (DevError, NotReadyError, FailedError, TimeoutError)


@dataclass(frozen=True)
class Options:
    manifest: Path
    dags: Path
    port: int
    state_dir: Path
    s3: Path  # each folder in it becomes a bucket of the embedded S3, its files the keys


@dataclass
class Tracker:
    """What state.json says while `up` runs."""

    devdir: DevDir
    notify: Callable[[str], None]
    phase: str = "starting"
    message: str = ""
    error: str = ""  # why `up` stopped, when it failed
    url: str = ""
    username: str = ""
    aws: str = ""  # the embedded AWS's endpoint, for the user's own boto3 or aws CLI
    infrastructure: list[dict[str, Any]] = field(default_factory=list)
    supervisor: Supervisor | None = None
    me: Recorded | None = field(default_factory=lambda: Recorded.of(os.getpid()))

    def step(self, message: str) -> None:
        self.message = message
        self.notify(message)
        self.save()

    def add(self, name: str, recorded: Recorded | None, log: Path) -> None:
        members = [recorded.as_json()] if recorded else []
        pid = recorded.pid if recorded else None
        self.infrastructure.append(
            {"name": name, "state": "running", "pid": pid, "started": time.time(),
             "restarts": 0, "last_error": "", "log": str(log), "members": members}
        )  # fmt: skip

    def state(self) -> dict[str, Any]:
        components = self.supervisor.as_json() if self.supervisor else []
        return {
            "pid": self.me.pid if self.me else None,
            "created": self.me.created if self.me else None,
            "phase": self.phase,
            "message": self.message,
            "error": self.error,
            "url": self.url,
            "username": self.username,
            "aws": self.aws,
            "processes": [*self.infrastructure, *components],
        }

    def save(self) -> None:
        self.devdir.write_state(self.state())


def serve(options: Options, console: Console, live: bool) -> int:
    """Starts the cluster and supervises it until interrupted (SIGINT, SIGTERM, SIGHUP);
    then, or when starting fails, stops everything started so far."""
    resolved = checks.cluster(options.manifest)
    dags = checks.dag_folder(options.dags)
    devdir = DevDir(options.state_dir)
    # SIGINT too: a shell starts a background job with SIGINT ignored, and Python keeps that.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    with devdir.locked():
        checks.port_free(options.port)
        tracker = Tracker(devdir, console.print)
        try:
            with ExitStack() as stack:
                try:
                    password = _start(options, resolved, dags, tracker, stack)
                    _supervise(tracker, console, live, password, resolved)
                finally:
                    _quietly(tracker)  # before the stack stops what was started
        except KeyboardInterrupt:
            return 130
        except STOPPING as error:
            tracker.phase, tracker.error = "failed", str(error)
            raise
        finally:
            if tracker.phase != "failed":
                tracker.phase = "stopped"
            tracker.save()


def _start(
    options: Options, resolved: ResolvedCluster, dags: Path, tracker: Tracker, stack: ExitStack
) -> str:
    """Everything, in order, each stop registered as soon as it started; returns the admin
    password."""
    devdir = tracker.devdir
    end_leftovers(devdir)
    for folder in (devdir.logs, devdir.home):
        folder.mkdir(parents=True, exist_ok=True)
    database_url = _database(options, resolved, tracker, stack)
    tracker.step("starting the embedded AWS")
    aws = start_aws(devdir.log("aws"), resolved.spec.aws.region or REGION)
    stack.callback(aws.stop)
    tracker.add("aws", Recorded.of(aws.process.popen.pid) if aws.process.popen else None,
                devdir.log("aws"))  # fmt: skip
    os.environ.update(aws.env)  # gather() reaches it
    tracker.aws = aws.endpoint
    _fill_s3(options.s3, aws.region)  # first: gather pins the objects spec.airflow names
    tracker.step("creating the cluster's AWS resources (gather)")
    rendered = _render(resolved, database_url, aws, devdir)
    job, components = _containers(rendered, options, dags, devdir, aws)
    supervisor = tracker.supervisor = Supervisor(devdir.logs, tracker.notify, tracker.save)
    stack.callback(supervisor.stop)
    _migrate(rendered, job, supervisor, tracker)
    tracker.step("starting " + ", ".join(c.name for c in components))
    supervisor.start(components)
    tracker.url, tracker.username = f"http://localhost:{options.port}", _username(rendered)
    objects = Objects(rendered.manifests)
    admin = rendered.plan.admin_password
    return objects.get("Secret", admin.name, admin.key)


def _quietly(tracker: Tracker) -> None:
    """From here on, the stopping goes to its end: a second Ctrl-C cannot leave orphans."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if tracker.phase != "failed":
        tracker.phase = "stopping"
    tracker.save()


def _database(
    options: Options, resolved: ResolvedCluster, tracker: Tracker, stack: ExitStack
) -> str:
    """The database URL: the user's, from the Secret beside the cluster in its manifest, or
    that of the PostgreSQL started here."""
    own = checks.own_database_url(options.manifest, resolved)
    if own is not None:
        tracker.step(f"using the database of the Secret {resolved.database_secret.name}")
        return own
    tracker.step("starting PostgreSQL")
    database = start_database(tracker.devdir.postgres)
    stack.callback(database.stop)
    tracker.add("postgres", database.recorded, tracker.devdir.postgres / "log")
    return database.url


def _render(resolved: ResolvedCluster, database_url: str, aws: Aws, devdir: DevDir) -> Rendered:
    """The operator's gather, plan and builders; the embedded AWS starts empty, so the
    secrets an earlier `up` made (admin password, shared keys) are put back first."""
    saved: dict[str, str] = devdir.read_secrets().get("aws", {})
    for secret_id, value in saved.items():
        secrets.ensure_secret(aws.region, secret_id, partial(str, value), resolved.aws_names.owner)
    owner = Owner("farflow.io/v1alpha1", "AirflowCluster", resolved.name, UNKNOWN_UID)
    rendered = render(resolved, database_url, owner, Known(migrated=bool(saved)))
    names = resolved.aws_names
    made = {}
    for secret_id in (names.admin_secret_id, names.keys_secret_id):
        stored = secrets.read_secret(aws.region, secret_id)
        if stored is not None:
            made[secret_id] = stored.value
    devdir.write_secrets({**devdir.read_secrets(), "aws": made})
    return rendered


def _fill_s3(folder: Path, region: str) -> None:
    """Each folder of ``folder`` as a bucket of the embedded S3, with its files as keys."""
    if not folder.is_dir():
        return
    s3 = boto3.client("s3", region_name=region)
    for bucket in sorted(p for p in folder.iterdir() if p.is_dir()):
        s3.create_bucket(Bucket=bucket.name)
        for file in sorted(p for p in bucket.rglob("*") if p.is_file()):
            s3.upload_file(str(file), bucket.name, file.relative_to(bucket).as_posix())


def _containers(
    rendered: Rendered, options: Options, dags: Path, devdir: DevDir, aws: Aws
) -> tuple[LocalProcess, list[LocalProcess]]:
    """The migration Job's container and each component's, as processes here."""
    ports = {API_PORT: options.port, SCHEDULER_HEALTH_PORT: free_port(),
             WORKER_LOG_PORT: free_port()}  # fmt: skip
    env = {
        **aws.env,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(devdir.home),
        "LANG": "C.UTF-8",
        # One machine is not a pod each: the UI on loopback, the triggerer's log server on a
        # port of its own.
        env_name("api", "host"): "127.0.0.1",
        env_name("logging", "trigger_log_server_port"): str(free_port()),
    }
    image_dags = rendered.resolved.spec.dags.image
    paths = {image_dags.path: dags} if image_dags else {}
    site = Site(home=devdir.home, env=env, entrypoint=_entrypoint(), ports=ports,
                image_paths=paths)  # fmt: skip
    try:
        objects = Objects(rendered.manifests)
        job, *components = processes(rendered.manifests, objects, site, own_log_port)
    except KeyError as error:  # a Secret of the user's, which only Kubernetes would have
        raise DevError(
            f"the manifest's containers read {error.args[0]}, which farflow dev cannot give "
            "them: leave out the Secret reference that names it (spec.admin."
            "passwordSecretRef: a password is generated; git credentials: a public repo)"
        ) from None
    return job, components


def own_log_port(workload: Manifest, site: Site) -> Site:
    """The site of a named worker pool's process: its log server on a port of its own, as
    its pod would have to itself (the default pool's worker keeps the site's)."""
    component = workload["metadata"]["labels"].get(COMPONENT_LABEL, "")
    if named_pool(component) is None:
        return site
    return replace(site, ports={**site.ports, WORKER_LOG_PORT: free_port()})


def _entrypoint() -> tuple[str, ...]:
    """The image's ENTRYPOINT with the dumb-init of this environment (the dumb-init wheel)."""
    dumb_init = Path(sys.executable).with_name("dumb-init")
    if not dumb_init.exists():
        raise DevError(f"{dumb_init} is missing: run `make .venv/.synced` (the local extra)")
    return tuple(STAND_INS.get(p, p) for p in (str(dumb_init), *IMAGE_ENTRYPOINT[1:]))


def _migrate(
    rendered: Rendered, job: LocalProcess, supervisor: Supervisor, tracker: Tracker
) -> None:
    """The migration Job, unless this very Job (same image, database and admin) completed
    before: in EKS the operator would not run it again either."""
    [manifest] = [m for m in rendered.manifests if m["kind"] == "Job"]
    name = manifest["metadata"]["name"]
    done = tracker.devdir.read_secrets().get("migrated")
    if done == name:
        tracker.step(f"the database is migrated (Job {name} completed before)")
        return
    tracker.step(f"migrating the database and creating the admin user (Job {name})")
    supervisor.run_job(job)
    tracker.devdir.write_secrets({**tracker.devdir.read_secrets(), "migrated": name})


def _username(rendered: Rendered) -> str:
    return rendered.resolved.spec.admin.username


def _supervise(
    tracker: Tracker, console: Console, live: bool, password: str, resolved: ResolvedCluster
) -> NoReturn:
    """Waits for the UI, says so (with the password, on the terminal only), then keeps the
    components running."""
    supervisor = tracker.supervisor
    assert supervisor is not None
    with _display(console, live, tracker) as refresh:
        _wait_ready(tracker, supervisor, refresh)
        _sync_declared(resolved, tracker, password)
        tracker.phase, tracker.message = "running", f"the UI is at {tracker.url}"
        tracker.save()
        if live:
            console.print(_ready_line(tracker, password), soft_wrap=True)
        while True:  # until interrupted
            supervisor.tick()
            tracker.save()
            refresh()
            time.sleep(1)


def _sync_declared(resolved: ResolvedCluster, tracker: Tracker, password: str) -> None:
    """The pools, variables and connections the manifest declares, kept as the operator
    keeps them, with what FarFlow created remembered in the state directory; a failure is
    said, and `up` goes on."""
    airflow = resolved.spec.airflow
    if not airflow_objects.declares_any(airflow):
        return
    devdir = tracker.devdir
    saved = devdir.read_secrets().get("airflow_objects")
    known = AirflowObjectsStatus.model_validate(saved) if saved else None
    wanted = airflow_objects.declared(airflow, airflow_objects.secret_reader(resolved, None))
    endpoint = airflow_api.Endpoint(tracker.url, tracker.username, password)
    created, synced = airflow_objects.sync(endpoint, wanted, known)
    if created is not None:
        devdir.write_secrets({**devdir.read_secrets(), "airflow_objects": created.model_dump()})
    outcome = "" if synced.holds else "not all as declared: "
    tracker.step(f"pools, variables and connections: {outcome}{synced.message}")


def _wait_ready(tracker: Tracker, supervisor: Supervisor, refresh: Callable[[], None]) -> None:
    health = f"{tracker.url}/api/v2/monitor/health"
    deadline = time.monotonic() + READY_TIMEOUT
    while not (supervisor.started() and answers(health)):
        supervisor.tick()
        tracker.save()
        refresh()
        failing = supervisor.failing()
        if failing or time.monotonic() > deadline:
            tracker.phase = "failed"
            raise DevError(_cannot_start(failing, tracker))
        time.sleep(1)


def _cannot_start(failing: list[Supervised], tracker: Tracker) -> str:
    if not failing:
        return f"the UI did not answer at {tracker.url} within {READY_TIMEOUT:.0f} s"
    component = failing[0]
    tracker.message = f"{component.name} cannot start"
    return (
        f"{component.name} cannot start: it ended {component.crashes} times "
        f"({component.last_error}). The end of its log, {component.log}:\n{tail(component.log, 25)}"
    )


def _ready_line(tracker: Tracker, password: str) -> str:
    return (
        f"[bold green]Airflow is up[/] at {tracker.url}  user [bold]{tracker.username}[/]  "
        f"password [bold]{escape(password)}[/]\n(the password again: farflow dev status "
        "--show-password; stop: Ctrl-C or farflow dev down)"
    )


@contextlib.contextmanager
def _display(console: Console, live: bool, tracker: Tracker) -> Iterator[Callable[[], None]]:
    if not live:
        yield lambda: None
        return
    with Live(table(tracker.state()), console=console, refresh_per_second=2) as shown:
        tracker.notify = shown.console.print
        yield lambda: shown.update(table(tracker.state()))


def end_leftovers(devdir: DevDir) -> list[int]:
    """Ends every process an earlier `up` recorded that still runs (an `up` that was killed
    could not stop them); returns their PIDs."""
    rows = devdir.read_state().get("processes", [])
    # The PostgreSQL server of the data directory is taken by the next `up` as it runs.
    members = [m for row in rows if row["name"] != "postgres" for m in row.get("members", [])]
    return kill_all(Recorded(int(pid), created) for pid, created in members)
