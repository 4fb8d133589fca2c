"""The ECS agent's part for the Ecs executor's tasks: moto takes RunTask and moves the task
through its states, but runs no container. For each task of the Ecs executor's task
definition this runs the container as a local process, as the agent on Fargate would: the
definition's entry point (else the image's, farflow.local) with the command of the task's
overrides (else of the definition), the definition's environment, its secrets read from
Secrets Manager, and the overrides' environment. Only what farflow.local.site_env names
differs, as for pods (the API server's address, the credentials, a home), and the image's
folders the task uses are local folders.

The proxy in front of moto tells of RunTask before the scheduler hears back, and the task is
tagged held at once: tests/fixtures/moto_server.py keeps a held task RUNNING, and stops it
with the exit code it is tagged with once the process ends."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3

from farflow import runtime
from farflow.local import Site, command_line, relocated, site_env
from farflow.runtime import BOOTSTRAP_DIR, RUNTIME_DIR
from tests.fixtures.aws_proxy import AwsProxy
from tests.fixtures.moto_server import EXIT_CODE, HELD
from tests.fixtures.processes import Process


@dataclass(frozen=True)
class AgentRun:
    """One task's container, as it ran here; its command line (which carries the task's
    workload token) and environment (its secrets) stay out of its repr."""

    task_arn: str
    argv: tuple[str, ...] = field(repr=False)
    env: dict[str, str] = field(repr=False)
    exit_code: int = 0


class EcsAgent:
    def __init__(self, proxy: AwsProxy, family: str, site: Site, logs: Path) -> None:
        self.proxy, self.family, self.site, self.logs = proxy, family, site, logs
        self.ecs = boto3.client("ecs", endpoint_url=proxy.upstream)  # moto itself
        self.secrets = boto3.client("secretsmanager", endpoint_url=proxy.upstream)
        self.runs: list[AgentRun] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> EcsAgent:
        self.proxy.observers["ecs:RunTask"] = self._run_task
        return self

    def __exit__(self, *_: object) -> None:
        self.proxy.observers.pop("ecs:RunTask", None)
        self.ended()

    def ended(self, timeout: float = 60) -> list[AgentRun]:
        """The runs, once every container started so far has exited: a task reports its
        success to Airflow before its process ends, so a finished DAG run may still have a
        container here that is shutting down."""
        for thread in self._threads:
            thread.join(timeout=timeout)
        return self.runs

    def _run_task(self, request: bytes, response: bytes) -> None:
        asked, answered = json.loads(request), json.loads(response)
        if asked["taskDefinition"].rsplit("/", 1)[-1].split(":")[0] != self.family:
            return  # another task definition's task (EcsRunTaskOperator's): moto ends it
        for task in answered.get("tasks", []):
            self._tag(task["taskArn"], HELD, "true")
            thread = threading.Thread(target=self._run, args=(task, asked.get("overrides", {})))
            thread.start()
            self._threads.append(thread)

    def _run(self, task: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
        definition = self.ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
        [container] = definition["taskDefinition"]["containerDefinitions"]
        override: dict[str, Any] = next(
            (c for c in overrides.get("containerOverrides", []) if c["name"] == container["name"]),
            {},
        )
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        site = self._site(self.logs / f"ecs-task-{task_id}")
        env = {
            **_pairs(container.get("environment", []), "value"),
            **{s["name"]: self._secret(s["valueFrom"]) for s in container.get("secrets", [])},
            **_pairs(override.get("environment", []), "value"),
            **site_env(site),
        }
        env = {name: relocated(value, site) for name, value in env.items()}
        command = override.get("command") or container.get("command") or []
        # As a pod's command and args: the entry point replaces the image's, the command its CMD.
        argv = command_line({"command": container.get("entryPoint"), "args": command}, env, site)
        process = Process(argv, self.logs / f"ecs-task-{task_id}.log", env, inherit=False)
        process.start()
        assert process.popen is not None
        code = process.popen.wait()
        self.runs.append(AgentRun(task["taskArn"], argv, env, code))
        self._tag(task["taskArn"], EXIT_CODE, str(code))
        self.ecs.untag_resource(resourceArn=task["taskArn"], tagKeys=[HELD])

    def _site(self, task_folder: Path) -> Site:
        """The site, with the image's folders that a task uses: farflow.runtime's modules
        (airflow/Dockerfile copies them) and the task's own bootstrap folder."""
        task_folder.mkdir()
        folders = {RUNTIME_DIR: Path(runtime.__file__).parent, BOOTSTRAP_DIR: task_folder}
        return replace(self.site, image_paths={**self.site.image_paths, **folders})

    def _secret(self, value_from: str) -> str:
        """A secrets entry's value: <secret ARN>:<JSON key>:: as ECS reads it."""
        arn, key, _, _ = value_from.rsplit(":", 3)
        values = json.loads(self.secrets.get_secret_value(SecretId=arn)["SecretString"])
        return str(values[key])

    def _tag(self, arn: str, key: str, value: str) -> None:
        self.ecs.tag_resource(resourceArn=arn, tags=[{"key": key, "value": value}])


def _pairs(entries: list[dict[str, str]], field: str) -> dict[str, str]:
    return {entry["name"]: entry[field] for entry in entries}
