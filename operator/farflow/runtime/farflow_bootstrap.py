"""The init container of every Airflow pod whose cluster brings requirements, plugins or a
startup script (spec.airflow), as MWAA users keep them in S3:

    FARFLOW_BOOTSTRAP='{"requirements": {"packages": ["pendulum-extras==1.0"]},
                        "plugins": {"bucket": "b", "key": "plugins.zip", "version": "v"},
                        "startupScript": {"bucket": "b", "key": "startup.sh",
                                          "etag": "\\"9b2cf535f27731c974343645a3985328\\""}}' \\
        python -m farflow_bootstrap

into the pod's emptyDir at FARFLOW_BOOTSTRAP_DIR, which the Airflow container mounts too:

- requirements: pip installs them under prefix/ (python/ on PYTHONPATH), constrained to every
  distribution the image has at the version it has, so nothing of the image is upgraded or
  replaced; a conflict is pip's error, not a broken Airflow;
- plugins: the archive unpacked into plugins/ ([core] plugins_folder);
- startupScript: the script saved as startup.sh, which the Airflow container sources before
  its component (a script's exports must reach the component, so it cannot run here).

What fails is named (the object, pip's error with the requirement's line) on stderr, and the
container exits 1: Kubernetes keeps that as its termination message, the pod never starts
and a rolling update leaves the running pods in place. Only the standard library, boto3 (in
every Airflow image with the Amazon provider) and pip are used.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

PIP_ERROR_LINES = 15


class BootstrapError(Exception):
    pass


def url(ref: dict[str, str]) -> str:
    version = f" (version {ref['version']})" if ref.get("version") else ""
    return f"s3://{ref['bucket']}/{ref['key']}{version}"


def fetch(ref: dict[str, str]) -> bytes:
    """The object at its pinned version, or as it was when the operator pinned its ETag (an
    object of an unversioned bucket)."""
    pinned = {"VersionId": ref["version"]} if ref.get("version") else {}
    if ref.get("etag"):
        pinned["IfMatch"] = ref["etag"]
    try:
        answer = boto3.client("s3").get_object(Bucket=ref["bucket"], Key=ref["key"], **pinned)
        return bytes(answer["Body"].read())
    except (BotoCoreError, ClientError) as error:
        said = error.response.get("Error", {}) if isinstance(error, ClientError) else {}
        if said.get("Code") == "PreconditionFailed":
            raise BootstrapError(
                f"{url(ref)} changed since FarFlow pinned it (ETag {ref['etag']}): the pods "
                "roll to the new upload on the operator's next pass"
            ) from None
        raise BootstrapError(f"cannot read {url(ref)}: {error}") from None


def constraints() -> str:
    """Every distribution this image has, at its version: what pip may not move."""
    found = ((dist.metadata["Name"] or "", dist.version) for dist in metadata.distributions())
    pinned = {name.lower(): version for name, version in found if name}
    return "".join(f"{name}=={version}\n" for name, version in sorted(pinned.items()))


def requirements_text(requirements: dict[str, Any]) -> tuple[str, str]:
    """The requirements file's text, and where it comes from."""
    if "s3" in requirements:
        return fetch(requirements["s3"]).decode(), url(requirements["s3"])
    packages = requirements.get("packages") or []
    return "".join(f"{package}\n" for package in packages), "spec.airflow.requirements"


def install(text: str, source: str, root: Path) -> None:
    listed, pins, prefix = root / "requirements.txt", root / "constraints.txt", root / "prefix"
    listed.write_text(text)
    pins.write_text(constraints())
    pip = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
           "--no-warn-script-location", "--prefix", str(prefix), "-r", str(listed),
           "-c", str(pins)]  # fmt: skip
    done = subprocess.run(pip, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stdout + done.stderr).replace(str(listed), source).splitlines()
        named = "".join(f", line {n}: {line}" for n, line in culprits(text, said))
        raise BootstrapError(
            f"the requirements of {source}{named} cannot be installed:\n"
            + "\n".join(said[-PIP_ERROR_LINES:])
        )
    site = sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)})
    (root / "python").unlink(missing_ok=True)  # a pod's earlier run, or farflow dev's
    (root / "python").symlink_to(site)
    print(f"installed the requirements of {source}")


def culprits(text: str, said: list[str]) -> list[tuple[int, str]]:
    """The requirement lines (number, text) that pip's errors name."""
    errors = "\n".join(line for line in said if line.startswith("ERROR"))
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    return [(n, line) for n, line in lines if line and line[0] not in "#-" and line in errors]


def unpack(archive: bytes, source: str, root: Path) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as plugins:
            plugins.extractall(root / "plugins")
    except zipfile.BadZipFile as error:
        raise BootstrapError(f"the plugins {source} do not unpack: {error}") from None
    print(f"unpacked the plugins of {source}")


def main() -> int:
    wanted = json.loads(os.environ["FARFLOW_BOOTSTRAP"])
    root = Path(os.environ["FARFLOW_BOOTSTRAP_DIR"])
    (root / "plugins").mkdir(parents=True, exist_ok=True)
    try:
        if "requirements" in wanted:
            install(*requirements_text(wanted["requirements"]), root)
        if "plugins" in wanted:
            unpack(fetch(wanted["plugins"]), url(wanted["plugins"]), root)
        if "startupScript" in wanted:
            (root / "startup.sh").write_bytes(fetch(wanted["startupScript"]))
            print(f"saved the startup script {url(wanted['startupScript'])}")
    except BootstrapError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
