"""The cluster's Airflow REST API, as its admin user, through the official client: what the
declared objects' sync and the autoscaler's scale-in ask of it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import urllib3
from airflow_client import client as airflow

TIMEOUT = (5.0, 20.0)  # seconds to connect, to read: a hung API server stops no reconcile
ERRORS = (airflow.ApiException, urllib3.exceptions.HTTPError, OSError, ValueError)
PAGE = 100  # task instances per request


@dataclass(frozen=True)
class Endpoint:
    """Where the cluster's API server answers, and the admin's credentials."""

    url: str
    username: str
    password: str = field(repr=False)


def signed_in(endpoint: Endpoint) -> airflow.ApiClient:
    """A client signed in as the admin (a JWT from /auth/token, FAB's, which the generated
    client does not cover)."""
    credentials = {"username": endpoint.username, "password": endpoint.password}
    request = urllib.request.Request(
        f"{endpoint.url}/auth/token",
        data=json.dumps(credentials).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT[1]) as answer:
        token = json.load(answer)["access_token"]
    configuration = airflow.Configuration(host=endpoint.url, access_token=token)
    configuration.retries = 1
    return airflow.ApiClient(configuration)


def running_by_host(endpoint: Endpoint) -> Counter[str]:
    """How many task instances run on each host, by its short name (a worker pod's name),
    from Airflow's own record; raises one of ERRORS when Airflow cannot tell."""
    tasks = airflow.TaskInstanceApi(signed_in(endpoint))
    hosts: Counter[str] = Counter()
    offset, total = 0, 1
    while offset < total:
        answer = tasks.get_task_instances_without_preload_content(
            "~", "~", state=["running"], limit=PAGE, offset=offset, _request_timeout=TIMEOUT
        )
        if answer.status != 200:
            raise airflow.ApiException(status=answer.status, reason=answer.reason)
        page = json.loads(answer.data)
        instances = page["task_instances"]
        total, offset = page["total_entries"], offset + max(len(instances), 1)
        hosts.update((ti.get("hostname") or "").split(".")[0] for ti in instances)
    hosts.pop("", None)
    return hosts


def described(error: BaseException) -> str:
    """What went wrong, never a request's input: Airflow's validation errors echo it, and a
    connection's holds its password."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, airflow.ApiException):
        return " ".join([f"HTTP {error.status} {error.reason}", *_details(error.body)])
    return str(error) or type(error).__name__


def _details(body: str | None) -> list[str]:
    try:
        detail = json.loads(body or "").get("detail")
    except (ValueError, AttributeError):
        return []
    if isinstance(detail, str):
        return [f"({detail})"]
    if isinstance(detail, list):
        return [
            f"({'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')})"
            for d in detail
            if isinstance(d, dict)
        ]
    return []
