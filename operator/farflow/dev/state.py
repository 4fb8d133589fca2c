"""What `farflow dev` keeps under its state directory (.farflow/dev by default):

lock            held by the running `up` (its PID inside), so a second one is refused
state.json      what runs: each process's PID, state, restarts and last error, rewritten
                by `up` as it changes; `status` and `down` read it
secrets.json    the AWS secrets `gather` made (admin password, shared keys), mode 0600:
                the embedded AWS starts empty, and a second `up` puts them back first
postgres/       the embedded PostgreSQL's data directory
home/           AIRFLOW_HOME of every process
logs/           one log file per process
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil


class DevError(Exception):
    """A situation `farflow dev` stops at, with a message that says what to do."""


@dataclass(frozen=True)
class DevDir:
    root: Path

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.json"

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def read_state(self) -> dict[str, Any]:
        try:
            found: dict[str, Any] = json.loads(self.state.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return found

    def write_state(self, state: dict[str, Any]) -> None:
        _write_atomically(self.state, json.dumps(state, indent=1))

    def read_secrets(self) -> dict[str, Any]:
        try:
            found: dict[str, Any] = json.loads(self.secrets.read_text())
        except FileNotFoundError:
            return {}
        return found

    def write_secrets(self, values: dict[str, Any]) -> None:
        _write_atomically(self.secrets, json.dumps(values), mode=0o600)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held while this process runs the cluster; another `up` gets a DevError naming
        the holder."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self.lock.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise self.in_use(_holder(handle)) from None
            handle.truncate(0)
            handle.write(str(os.getpid()))
            handle.flush()
            yield

    def in_use(self, holder: object) -> DevError:
        return DevError(
            f"{self.root} is in use by another `farflow dev up` (PID {holder}): stop it with "
            "`farflow dev down`, or give this one another --state-dir"
        )

    def ensure_free(self) -> None:
        holder = self.holder()
        if holder is not None:
            raise self.in_use(holder)

    def holder(self) -> int | None:
        """The PID of the `up` that holds the lock (0 while it writes it), if one does."""
        if not self.lock.exists():
            return None
        with self.lock.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held = _holder(handle)
                return int(held) if held.isdigit() else 0  # being written
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None


def _holder(handle: IO[str]) -> str:
    handle.seek(0)
    return handle.read().strip() or "unknown"


def _write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    partial = path.with_suffix(".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    partial.replace(path)


@dataclass(frozen=True)
class Recorded:
    """A process as state.json records it: a PID and its start time, so a PID the system
    gave to another process since is never taken for ours."""

    pid: int
    created: float

    @classmethod
    def of(cls, pid: int) -> Recorded | None:
        try:
            return cls(pid, psutil.Process(pid).create_time())
        except psutil.Error:
            return None

    def process(self) -> psutil.Process | None:
        """The process, while it is still the one recorded."""
        try:
            process = psutil.Process(self.pid)
            same = abs(process.create_time() - self.created) < 0.01
            return process if same and process.status() != psutil.STATUS_ZOMBIE else None
        except psutil.Error:
            return None

    def as_json(self) -> list[float]:
        return [self.pid, self.created]


def kill_all(recorded: Iterable[Recorded], wait: float = 10.0) -> list[int]:
    """SIGKILL for each recorded process that still runs, and a wait (at most ``wait``
    seconds) for them to be gone; returns their PIDs."""
    found = [p for p in (r.process() for r in recorded) if p is not None]
    for process in found:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(found, timeout=wait)
    return [process.pid for process in found]
