"""The kubelet's part for probes: each probe of the operator's manifests run as the kubelet
runs it, against the processes farflow.local started (`farflow dev` waits for the startup
probes, the e2e tier checks every probe).

An HTTP GET succeeds with a status from 200 to 399, a TCP probe when the port accepts a
connection, an exec probe when its command, run with the container's environment, exits 0;
each within its timeoutSeconds. On its schedule (every periodSeconds) a probe fails the
container after failureThreshold failures in a row: a failed liveness or startup probe is a
restart in a pod. Every exec probe's peak RSS is recorded, as the container pays for it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"  # the pod's IP, as the kubelet probes it


@dataclass(frozen=True)
class Attempt:
    ok: bool
    detail: str
    peak_rss_kib: int = 0  # an exec probe's command; 0 for HTTP and TCP


@dataclass
class Verdict:
    """A probe on its schedule: every attempt, and whether it failed the container."""

    attempts: list[Attempt] = field(default_factory=list)
    failed: bool = False
    exited: bool = False  # the container ended on its own: the kubelet probes it no more

    def streak(self) -> int:
        """Failures in a row at the end."""
        count = 0
        for attempt in reversed(self.attempts):
            if attempt.ok:
                break
            count += 1
        return count

    @property
    def longest_streak(self) -> int:
        longest = current = 0
        for attempt in self.attempts:
            current = 0 if attempt.ok else current + 1
            longest = max(longest, current)
        return longest


def attempt(probe: Mapping[str, Any], env: Mapping[str, str]) -> Attempt:
    """One try of ``probe`` (a container's probe field), as the kubelet makes it."""
    timeout = probe.get("timeoutSeconds", 1)
    if "httpGet" in probe:
        return _http(probe["httpGet"], timeout)
    if "tcpSocket" in probe:
        return _tcp(probe["tcpSocket"]["port"], timeout)
    return _exec(probe["exec"]["command"], env, timeout)


def on_schedule(
    probe: Mapping[str, Any],
    env: Mapping[str, str],
    done: Callable[[Verdict], bool],
    running: Callable[[], bool] = lambda: True,
) -> Verdict:
    """Attempts every periodSeconds while the container is ``running``, until the probe
    fails it or ``done`` says enough (it sees the verdict so far after each attempt)."""
    verdict, stop = Verdict(), threading.Event()
    stop.wait(probe.get("initialDelaySeconds", 0))
    while not stop.is_set():
        if not running():
            verdict.exited = True
            break
        verdict.attempts.append(attempt(probe, env))
        verdict.failed = verdict.streak() >= probe.get("failureThreshold", 3)
        if verdict.failed or done(verdict):
            break
        stop.wait(probe.get("periodSeconds", 10))
    return verdict


def _http(action: Mapping[str, Any], timeout: float) -> Attempt:
    url = f"http://{HOST}:{action['port']}{action.get('path', '/')}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        return Attempt(False, f"GET {url}: {error}")
    return Attempt(200 <= status < 400, f"GET {url}: {status}")


def _tcp(port: int, timeout: float) -> Attempt:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return Attempt(True, f"{HOST}:{port} accepts")
    except OSError as error:
        return Attempt(False, f"{HOST}:{port}: {error}")


# Runs the probe's command as a child of this small process and reports the child's peak
# RSS. A command forked from the test process directly would count the test's own memory:
# a child's peak RSS includes what it inherited at the fork, even across exec.
_MEASURED = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(f"\\n{usage.ru_maxrss}", end="", flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _exec(command: list[str], env: Mapping[str, str], timeout: float) -> Attempt:
    launcher = [sys.executable, "-c", _MEASURED, *command]
    process = subprocess.Popen(
        launcher, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:  # the kubelet gives up on it, and so do we
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return Attempt(False, f"{' '.join(command)}: no answer within {timeout} s")
    output, _, peak = output.rpartition("\n")
    detail = f"{' '.join(command)}: exit {process.returncode} {output.strip()[-300:]}"
    return Attempt(process.returncode == 0, detail, int(peak or 0))
