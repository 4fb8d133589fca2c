"""Health probes that run inside Airflow containers without importing Airflow.

    python -m farflow_probe job TriggererJob        # the job of this host heartbeats
    python -m farflow_probe heartbeat 60 [PORT]     # the Celery worker's loop turns

``airflow jobs check`` answers the first question too, but loads all of Airflow for it (about
140 MB and 4 s of CPU, twice a minute in a 0.25 vCPU / 256 MiB container). This reads the
same row with psycopg2 alone: the Job of this host and type, running, with a heartbeat more
recent than Airflow's threshold for it. The host is the name Airflow's default
``[core] hostname_callable`` records. The second question has no Airflow answer on SQS (no
remote control, so no ``celery inspect ping``): farflow_celery touches a file from the
worker's event loop, and a hung or stopped main process stops touching it. PORT, when given,
must also accept connections: the worker's log server. Exit 0 means healthy.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from contextlib import closing
from pathlib import Path

HEARTBEAT_FILE = "farflow-worker-heartbeat"  # under AIRFLOW_HOME; farflow_celery writes it
# Each job type's health threshold: the airflow.cfg option, and Airflow's default for it.
JOB_THRESHOLDS = {
    "TriggererJob": ("triggerer", "triggerer_health_check_threshold", 30.0),
    "DagProcessorJob": ("dag_processor", "health_check_threshold", 30.0),
    "SchedulerJob": ("scheduler", "scheduler_health_check_threshold", 30.0),
}
CONNECT_TIMEOUT = 5
ALIVE = """
SELECT 1 FROM job
WHERE job_type = %s AND hostname = %s AND state = 'running'
  AND latest_heartbeat > now() - %s * interval '1 second'
LIMIT 1
"""


def airflow_hostname() -> str:
    """What airflow.utils.net.getfqdn (the default hostname_callable) returns."""
    name = socket.gethostname()
    try:
        addresses = socket.getaddrinfo(name, None, 0, socket.SOCK_DGRAM, 0, socket.AI_CANONNAME)
    except OSError:
        return name
    return next((address[3] for address in addresses if address[3]), name)


def libpq_url(sqlalchemy_url: str) -> str:
    """postgresql+psycopg2://... as libpq takes it: without SQLAlchemy's driver suffix."""
    scheme, _, rest = sqlalchemy_url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}"


def threshold(job_type: str) -> float:
    section, key, default = JOB_THRESHOLDS[job_type]
    return float(os.environ.get(f"AIRFLOW__{section.upper()}__{key.upper()}", default))


def job_alive(job_type: str) -> bool:
    import psycopg2  # noqa: PLC0415  (only this probe needs it)

    url = libpq_url(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    connection = psycopg2.connect(url, connect_timeout=CONNECT_TIMEOUT)
    with closing(connection), connection.cursor() as cursor:
        cursor.execute(ALIVE, (job_type, airflow_hostname(), threshold(job_type)))
        return cursor.fetchone() is not None


def heartbeat_age(home: Path, now: float) -> float | None:
    """Seconds since the worker's loop last touched its file; None when it never did."""
    try:
        return now - (home / HEARTBEAT_FILE).stat().st_mtime
    except FileNotFoundError:
        return None


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT):
            return True
    except OSError:
        return False


def worker_alive(max_age: float, port: int | None) -> bool:
    age = heartbeat_age(Path(os.environ["AIRFLOW_HOME"]), time.time())
    return age is not None and age < max_age and (port is None or accepts(port))


def healthy(check: str, args: list[str]) -> bool:
    if check == "job":
        return job_alive(args[0])
    if check == "heartbeat":
        return worker_alive(float(args[0]), int(args[1]) if len(args) > 1 else None)
    raise SystemExit(f"unknown check {check!r}: use job or heartbeat")


def main(argv: list[str]) -> int:
    check, *args = argv
    try:
        ok = healthy(check, args)
    except Exception as error:  # a probe answers, even while the database is down
        print(f"farflow_probe {' '.join(argv)}: {error}", file=sys.stderr)
        return 1
    if not ok:
        print(f"farflow_probe {' '.join(argv)}: unhealthy", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
