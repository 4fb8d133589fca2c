"""What an Airflow container runs first when its cluster has a startup script
(spec.airflow.startupScript, which farflow_bootstrap saved), as MWAA runs its startup.sh:

    FARFLOW_STARTUP_SCRIPT=/opt/farflow-bootstrap/startup.sh \\
        python -m farflow_startup airflow scheduler

bash sources the script; then this process becomes the component (exec, so it keeps the
container's PID and signals) with the environment the script left, so what it exports the
component sees. A script that fails stops the container: its exit code and the end of what
it printed go to the container's termination message, which FarFlow's status shows, and
the component never starts.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

TERMINATION_LOG = Path("/dev/termination-log")
SHOWN_LINES = 20
# The script's output goes to stderr, so stdout carries only the environment it leaves.
SOURCE = '. "$0" >&2 && env -0'


def sourced(script: str) -> tuple[int, str, dict[str, str]]:
    """The script's exit code, what it printed, and the environment it left."""
    done = subprocess.run(["bash", "-c", SOURCE, script], capture_output=True, check=False)
    printed = done.stderr.decode(errors="replace")
    pairs = (entry.partition("=") for entry in done.stdout.decode().split("\0") if entry)
    return done.returncode, printed, {name: value for name, _, value in pairs}


def report(script: str, code: int, printed: str) -> str:
    said = "\n".join(printed.splitlines()[-SHOWN_LINES:])
    source = os.environ.get("FARFLOW_STARTUP_SOURCE", script)
    return f"the startup script {source} exited {code}:\n{said}"


def main(command: list[str]) -> int:
    script = os.environ["FARFLOW_STARTUP_SCRIPT"]
    code, printed, env = sourced(script)
    sys.stderr.write(printed)
    if code != 0:
        message = report(script, code, printed)
        print(message, file=sys.stderr)
        with contextlib.suppress(OSError):  # not in a pod: the log has it
            TERMINATION_LOG.write_text(message)
        return code
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
