"""Imported by Celery workers (``imports`` in ``[celery] extra_celery_config``): a heartbeat
file touched from the worker's event loop, which farflow_probe reads for the worker's
liveness. Celery's own liveness check, ``celery inspect ping``, needs remote control, which
SQS cannot carry; a file touched by a timer of the main process's loop stops being touched
when that process hangs or stops, while the log server (a separate process) still answers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import bootsteps
from celery.signals import celeryd_init

HEARTBEAT_FILE = "farflow-worker-heartbeat"  # under AIRFLOW_HOME; farflow_probe reads it
HEARTBEAT_SECONDS = 10.0


def touch() -> None:
    (Path(os.environ["AIRFLOW_HOME"]) / HEARTBEAT_FILE).touch()


class Heartbeat(bootsteps.StartStopStep):  # type: ignore[misc]
    """A consumer step: touches the file now, then on the consumer's timer."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer: Any = None

    def start(self, parent: Any) -> None:
        touch()
        self.timer = parent.timer.call_repeatedly(HEARTBEAT_SECONDS, touch)

    def stop(self, parent: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    shutdown = stop


@celeryd_init.connect  # type: ignore[untyped-decorator]
def _add_heartbeat(instance: Any, **_: Any) -> None:
    """Sent once the worker read its configuration and before it builds its consumer."""
    instance.app.steps["consumer"].add(Heartbeat)
