"""What `farflow dev up` checks before it starts anything, each with a message that says
what to do."""

from __future__ import annotations

import base64
import contextlib
import errno
import socket
from pathlib import Path
from typing import Any

import psutil
import yaml
from pydantic import ValidationError

from farflow.api import field_errors, parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.dev.state import DevError


def dag_folder(path: Path) -> Path:
    if not path.is_dir():
        raise DevError(
            f"the DAG folder {path} does not exist: create it, or point --dags at the folder "
            "that holds your DAG files"
        )
    return path.resolve()


def _documents(path: Path) -> list[dict[str, Any]]:
    try:
        return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    except FileNotFoundError:
        raise DevError(f"{path} does not exist: give an AirflowCluster manifest with -f") from None


def cluster(path: Path) -> ResolvedCluster:
    """The manifest's one AirflowCluster, resolved, if it can run here; beside it the file
    may hold Secrets (the database's, see `own_database_url`)."""
    documents = [doc for doc in _documents(path) if doc.get("kind") != "Secret"]
    try:
        [body] = documents
        resolved = resolve(parse(body))
    except ValidationError as error:  # a ValueError too
        errors = "\n".join(f"  {e}" for e in field_errors(error))
        raise DevError(f"{path} is not a valid AirflowCluster:\n{errors}") from None
    except ValueError as error:
        raise DevError(f"{path} must hold exactly one AirflowCluster ({error})") from None
    spec = resolved.spec
    if spec.database.connection_secret_ref is None:
        raise DevError(
            f"{path}: spec.database.rds cannot run here; farflow dev runs the database itself "
            "for spec.database.connectionSecretRef (any Secret name): set that instead"
        )
    if "Kubernetes" in spec.airflow.executors:
        raise DevError(
            f"{path}: spec.airflow.executors has Kubernetes, which needs a Kubernetes cluster "
            "that farflow dev does not run: leave it out to run the tasks on Celery here"
        )
    return resolved


def own_database_url(path: Path, resolved: ResolvedCluster) -> str | None:
    """The URL of the user's own database: the key spec.database.connectionSecretRef names,
    of that Secret in the manifest's file; None without such a Secret there (farflow dev
    then runs PostgreSQL itself)."""
    ref = resolved.database_secret
    named = [
        doc
        for doc in _documents(path)
        if doc.get("kind") == "Secret" and (doc.get("metadata") or {}).get("name") == ref.name
    ]
    if not named:
        return None
    secret = named[-1]
    if ref.key in (secret.get("stringData") or {}):
        return str(secret["stringData"][ref.key])
    if ref.key in (secret.get("data") or {}):
        return base64.b64decode(secret["data"][ref.key]).decode()
    raise DevError(
        f"{path}: the Secret {ref.name} has no key {ref.key}, which "
        "spec.database.connectionSecretRef names: add the database URL under stringData."
        f"{ref.key}, or leave the Secret out to use the database farflow dev runs"
    )


def port_free(port: int) -> None:
    """The UI's port can be listened on; if not, who holds it."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise DevError(
                f"port {port} is in use by {holder(port)}: stop that, or give another port "
                f"with --port (e.g. --port {port + 1})"
            ) from None


def holder(port: int) -> str:
    """The process listening on ``port``, as `PID 123 (name args)`."""
    with contextlib.suppress(psutil.Error):
        for connection in psutil.net_connections("tcp"):
            listening = connection.status == psutil.CONN_LISTEN
            if listening and getattr(connection.laddr, "port", None) == port and connection.pid:
                process = psutil.Process(connection.pid)
                command = " ".join(" ".join(process.cmdline()).split())[:100]
                return f"PID {connection.pid} ({command})"
    return "another process"
