"""Local processes as the local runtime and the tests run them: each with its output in a log
file, in a session of its own, stopped with its whole process group and killed with every
process below it; and the small waits around them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from farflow.local import LocalProcess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(interval)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, children first (Linux's /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the process or thread ended meanwhile
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def _kill_tree(pid: int) -> None:
    """SIGKILL for ``pid`` and everything below it, as the kubelet ends a container that
    outlived its grace period: also what left the process group (dumb-init's setsid)."""
    for member in [*descendants(pid), pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


class Process:
    """A child process with its output in a log file; stopped with its whole process group,
    and killed with every process below it. ``env`` is added to this process's environment,
    or with ``inherit=False`` is all of it."""

    def __init__(
        self,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        *,
        inherit: bool = True,
    ) -> None:
        self.argv, self.log, self.env, self.inherit = list(argv), log, env, inherit
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**(os.environ if self.inherit else {}), **(self.env or {})},
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def send(self, sig: signal.Signals) -> None:
        """``sig`` to the main process alone, as the kubelet signals a container's PID 1."""
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(sig)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            if sig == signal.SIGKILL:
                _kill_tree(self.popen.pid)
            else:
                os.killpg(self.popen.pid, sig)
        self.popen.wait(timeout=30)
        self.popen = None

    def stop(self) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _kill_tree(self.popen.pid)
                self.popen.wait(timeout=15)
        self.popen = None

    def tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)


def tail(log: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ("" while there is none)."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class FailedError(Exception):
    """A container that had to end successfully did not."""


def start_container(local: LocalProcess, log: Path) -> Process:
    """A container's process, with exactly its environment."""
    return Process(local.argv, log, local.env, inherit=False).start()


def run_to_completion(local: LocalProcess, log: Path, timeout: float = 300) -> None:
    """A container that must end successfully, as an init container or a Job's; stopped if
    this is interrupted."""
    process = start_container(local, log)
    try:
        wait_until(lambda: not process.alive(), timeout, f"{local.name} to finish")
    except BaseException:
        process.stop()
        raise
    assert process.popen is not None
    if process.popen.returncode != 0:
        raise FailedError(
            f"{local.name} exited with code {process.popen.returncode}; "
            f"the end of its log ({log}):\n{process.tail(30)}"
        )
