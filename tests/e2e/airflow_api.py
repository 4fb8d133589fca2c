"""Airflow 3's public REST API, as a user's script would call it: a JWT from the admin's
credentials, then /api/v2."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tests.fixtures.processes import wait_until

FINISHED = ("success", "failed")


class ApiError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class AirflowApi:
    base_url: str
    username: str
    password: str = field(repr=False)
    _token: str | None = field(default=None, repr=False)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        return _call(method, f"{self.base_url}{path}", Sealed(body, headers))

    @property
    def token(self) -> str:
        if self._token is None:
            credentials = {"username": self.username, "password": self.password}
            answer = _call("POST", f"{self.base_url}/auth/token", Sealed(credentials, {}))
            self._token = str(answer["access_token"])
        return self._token

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.request("GET", f"/api/v2/dags/{dag_id}")
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        return found

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}}
        )
        return str(run["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}"
        )
        return found

    def wait_for_run(
        self, dag_id: str, run_id: str, timeout: float, healthy: Callable[[], None] = lambda: None
    ) -> str:
        """The run's final state; a timeout names the states of its tasks. ``healthy`` is
        called between polls, to stop waiting early when what runs the DAG died."""
        states: list[str] = []

        def finished() -> bool:
            healthy()
            states.append(str(self.run(dag_id, run_id)["state"]))
            return states[-1] in FINISHED

        try:
            wait_until(finished, timeout, f"{dag_id} {run_id} finishing", interval=2)
        except TimeoutError as error:
            failures = self.failed_tries(dag_id, run_id)
            raise TimeoutError(f"{error}: {self.task_states(dag_id, run_id)}{failures}") from None
        return states[-1]

    def failed_tries(self, dag_id: str, run_id: str, lines: int = 30) -> str:
        """The end of the first try's log of every task that failed or waits for a retry,
        so a timeout says why a task failed, not only that it did."""
        tails = []
        for ti in self.task_instances(dag_id, run_id):
            if ti["state"] in ("failed", "up_for_retry"):
                try:
                    content = self._log_content(dag_id, run_id, ti["task_id"], 1)
                except ApiError as error:  # never ran: reaped from the queue, say
                    content = f"no log: {error}"
                entries = content if isinstance(content, list) else str(content).splitlines()
                shown = [str(e.get("event", e)) if isinstance(e, dict) else e for e in entries]
                tails.append(f"\n--- {ti['task_id']}, try 1:\n" + "\n".join(shown[-lines:]))
        return "".join(tails)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances"
        found: list[dict[str, Any]] = self.request("GET", path)["task_instances"]
        return found

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}"
            "/xcomEntries/return_value?deserialize=true"
        )
        return self.request("GET", path)["value"]

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        return json.dumps(self._log_content(dag_id, run_id, task_id, try_number))

    def _log_content(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> Any:
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}"
            f"/logs/{try_number}?full_content=true"
        )
        return self.request("GET", path)["content"]


@dataclass(frozen=True)
class Sealed:
    """A request's body and headers, which carry the password or the token: left out of its
    repr, so a failing call's traceback in pytest's output shows neither."""

    body: Any = field(repr=False)
    headers: dict[str, str] = field(repr=False)


def _call(method: str, url: str, sealed: Sealed) -> Any:
    data = None if sealed.body is None else json.dumps(sealed.body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=sealed.headers)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:500]
        raise ApiError(f"{method} {url}: {error.code} {detail}", error.code) from None
    return json.loads(text) if text else None
