"""The init container of the workers and of the migration Job: imports every module the
cluster's configuration makes Airflow import, before anything starts.

    FARFLOW_REQUIRED_MODULES='{"pycurl": "kombu's SQS transport ... needs"}' \\
        python -m farflow_preflight

An image without one of them would start, then fail deep inside Airflow or Celery, restart
and fail again: apache/airflow has no pycurl, so its workers cannot read SQS. This names each
missing module, what needs it and the fix, and exits 1; Kubernetes shows that as the init
container's termination message (terminationMessagePolicy FallbackToLogsOnError). A failed
migration Job stops the rollout, so a new image that lacks a module never replaces the
running pods. The database driver of [database] sql_alchemy_conn is checked too: it is a
secret, so only known here.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

# SQLAlchemy's PostgreSQL drivers: the module each imports (postgresql:// means psycopg2).
DRIVERS = {"postgresql": "psycopg2", "psycopg2": "psycopg2", "psycopg": "psycopg"}
FIX = (
    "use FarFlow's image (the default spec.airflow.image), or build yours from "
    "airflow/Dockerfile, or install what is missing into it"
)


def database_driver(url: str) -> dict[str, str]:
    scheme = url.partition("://")[0]
    driver = DRIVERS.get(scheme.partition("+")[2] or scheme)
    return {driver: f"the database URL ({scheme}://) needs"} if driver else {}


def missing(required: dict[str, str]) -> dict[str, str]:
    """The modules that do not import, each with what needs it and why it failed."""
    problems = {}
    for module, needed_by in required.items():
        try:
            importlib.import_module(module)
        except ImportError as error:  # also pycurl built against another libcurl
            problems[module] = f"{needed_by} ({error})"
    return problems


def main() -> int:
    required = json.loads(os.environ["FARFLOW_REQUIRED_MODULES"])
    required |= database_driver(os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ""))
    image = os.environ.get("FARFLOW_IMAGE", "this image")
    problems = missing(required)
    for module, needed_by in problems.items():
        print(f"{image} lacks the Python module {module}, which {needed_by}", file=sys.stderr)
    if problems:
        print(f"FarFlow cannot run Airflow from {image}: {FIX}", file=sys.stderr)
        return 1
    print(f"{image} has every module the configuration imports: {', '.join(sorted(required))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
