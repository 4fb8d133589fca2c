"""`farflow dev` as a user runs it, from the repository: `farflow dev up --detach` with its
default manifest, a copy of airflow/dags and a state directory of the test's own, on a free
port (so it can run beside the e2e stack's fixed ones)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from farflow.dev.services import AWS_KEYS
from farflow.dev.state import Recorded
from tests.cases import ROOT
from tests.e2e.airflow_api import AirflowApi
from tests.fixtures.processes import answers

FARFLOW = str(Path(sys.executable).with_name("farflow"))
UP_TIMEOUT = 900
KEYS = {key.lower(): value for key, value in AWS_KEYS.items()}  # boto3's keyword names


@dataclass
class DevCluster:
    state_dir: Path
    dags: Path
    port: int
    manifest: Path | None = None  # the default example when None
    s3: Path | None = None  # the folder of the embedded S3's buckets; airflow/dev-s3 when None
    env: dict[str, str] = field(default_factory=dict)  # added to `farflow dev`'s environment
    printed: str = field(default="", repr=False)  # what the last `up --detach` printed
    password: str = field(default="", repr=False)

    def farflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`farflow dev ARGS` with this cluster's state directory, from the repository."""
        argv = [FARFLOW, "dev", *args, "--state-dir", str(self.state_dir)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | self.env
        return subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def up(self) -> subprocess.CompletedProcess[str]:
        given = [*(("-f", str(self.manifest)) if self.manifest else ())]
        given += ("--s3", str(self.s3)) if self.s3 else ()
        result = self.farflow(
            "up", "--detach", "--port", str(self.port), "--dags", str(self.dags), *given,
            timeout=UP_TIMEOUT,
        )  # fmt: skip
        self.printed = result.stdout
        found = re.search(r"password (\S+)", result.stdout)
        if found:
            self.password = found.group(1)
        return result

    def ensure_up(self) -> None:
        if not self.running():
            result = self.up()
            assert result.returncode == 0, result.stdout + result.stderr

    def running(self) -> bool:
        return self.farflow("status").returncode == 0 and answers(self.health_url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}/api/v2/monitor/health"

    @property
    def api(self) -> AirflowApi:
        return AirflowApi(self.url, "admin", self.password)

    def state(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads((self.state_dir / "state.json").read_text())
        return found

    def component(self, name: str) -> dict[str, Any]:
        rows: list[dict[str, Any]] = self.state()["processes"]
        [row] = [row for row in rows if row["name"] == name]
        return row

    def ours(self) -> list[Recorded]:
        """Every process `up` recorded, itself included, that still runs."""
        state = self.state()
        recorded = [Recorded(state["pid"], state["created"])]
        recorded += [Recorded(p, c) for row in state["processes"] for p, c in row["members"]]
        return [r for r in recorded if r.process() is not None]

    def aws(self, service: str) -> Any:
        """A boto3 client of the cluster's embedded AWS."""
        endpoint = self.state()["aws"]
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", **KEYS)

    def add_dag(self, source: Path) -> None:
        shutil.copy(source, self.dags / source.name)
