"""The local runtime: the pods of an AirflowCluster's manifests, run as processes here.

Each container's command and environment are resolved from the manifests the operator
applies, the way the kubelet resolves them (ConfigMap ``envFrom``, ``secretKeyRef``,
``$(VAR)`` expansion, ConfigMap volumes), and a container without a ``command`` runs under
the image's entrypoint (dumb-init, as in the Airflow image), so signals reach the processes
as they do in a pod. Only what cannot be the same off-cluster is replaced, and `Site` names
all of it: the API server's address, the Kubernetes credentials, the AWS credentials that
IRSA gives pods in EKS, the image's /entrypoint script (see ``entrypoint`` here), and, where
several clusters share one machine, the ports every pod would have to itself and the image's
folders that are local folders here (``farflow dev``'s DAG folder).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from farflow.manifests.runtime import IMAGE_ENTRYPOINT
from farflow.objects import Manifest, expand
from farflow.plan.config import (
    API_PORT,
    METRICS_PORT,
    SCHEDULER_HEALTH_PORT,
    WORKER_LOG_PORT,
    env_name,
)

KUBERNETES_CONNECTION = "AIRFLOW_CONN_KUBERNETES_DEFAULT"
# What stands in here for the files of the image that this machine does not have.
STAND_INS = {"/entrypoint": str(Path(__file__).with_name("entrypoint"))}
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
# The settings that name a port a pod listens on, by that port.
PORT_SETTINGS = {
    API_PORT: ("api", "port"),
    SCHEDULER_HEALTH_PORT: ("scheduler", "scheduler_health_check_server_port"),
    WORKER_LOG_PORT: ("logging", "worker_log_server_port"),
}
METRICS_ENDPOINT = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"  # the collector's Service, in a pod


@dataclass(frozen=True)
class Site:
    """This machine, where a pod would see the cluster."""

    home: Path  # AIRFLOW_HOME of every process; ConfigMap volumes are written under it
    host: str = "127.0.0.1"
    kubeconfig: Path | None = None  # the cluster the Kubernetes executor and pod operator use
    env: Mapping[str, str] = field(default_factory=dict)  # e.g. AWS credentials and endpoint
    # The image's ENTRYPOINT as it runs here (Debian's dumb-init, the stand-in /entrypoint).
    entrypoint: tuple[str, ...] = tuple(STAND_INS.get(part, part) for part in IMAGE_ENTRYPOINT)
    # A pod's port -> the port its process listens on here (unlisted ones stay as they are).
    ports: Mapping[int, int] = field(default_factory=dict)
    # A folder of the image -> the local folder that stands in for it.
    image_paths: Mapping[str, Path] = field(default_factory=dict)

    def port(self, pod_port: int) -> int:
        return self.ports.get(pod_port, pod_port)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port(API_PORT)}"


@dataclass(frozen=True)
class LocalProcess:
    """One container of a pod, as a command line and its complete environment; ``argv[0]``
    is the container's main process (its PID 1 in a pod)."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(repr=False)  # holds the Secrets' values
    init: tuple[LocalProcess, ...] = ()  # the pod's init containers, to run to the end first
    # The container's probes by kind (startupProbe, ...), with the site's ports.
    probes: Mapping[str, Manifest] = field(default_factory=dict)


class Objects:
    """The ConfigMaps and Secrets containers read, by name."""

    def __init__(self, manifests: Iterable[Manifest]) -> None:
        self._data: dict[tuple[str, str], dict[str, str]] = {}
        for manifest in manifests:
            if manifest["kind"] in ("ConfigMap", "Secret"):
                key = (manifest["kind"], manifest["metadata"]["name"])
                self._data[key] = _values(manifest)

    def get(self, kind: str, name: str, key: str) -> str:
        try:
            return self._data[(kind, name)][key]
        except KeyError:
            raise KeyError(f"{kind} {name} has no key {key}") from None

    def all(self, kind: str, name: str) -> dict[str, str]:
        return dict(self._data.get((kind, name), {}))


def processes(
    manifests: list[Manifest],
    objects: Objects,
    site: Site,
    site_of: Callable[[Manifest, Site], Site] = lambda _, site: site,
) -> list[LocalProcess]:
    """The migration Job's container, then each Deployment's, with replicas ignored; each
    runs on ``site_of`` its workload (by default the one ``site``)."""
    workloads = [m for m in manifests if m["kind"] in ("Job", "Deployment")]
    return [
        container_process(
            m["spec"]["template"]["spec"], objects, site_of(m, site), pod=m["metadata"]["name"]
        )
        for m in workloads
    ]


def container_process(
    pod_spec: Manifest, objects: Objects, site: Site, pod: str = ""
) -> LocalProcess:
    """The pod's (first) container as a process, after its init containers; ConfigMap
    volumes are written to disk, and its emptyDir volumes are folders of the ``pod`` (by
    default named after its first container), which its containers share."""
    pod = pod or pod_spec["containers"][0]["name"]
    init = pod_spec.get("initContainers", [])
    main = _process(pod_spec, pod_spec["containers"][0], objects, site, pod)
    return replace(main, init=tuple(_process(pod_spec, c, objects, site, pod) for c in init))


def _process(
    pod_spec: Manifest, container: Manifest, objects: Objects, site: Site, pod: str
) -> LocalProcess:
    mounts = _mount(pod_spec, container, objects, site.home / "mounts")
    mounts |= _empty_dirs(pod_spec, container, site.home / "pods" / pod)
    env = {**_container_env(container, objects), **site_env(site)}
    env = {name: relocated(_remount(value, mounts), site) for name, value in env.items()}
    env |= _port_env(env, site)
    env[KUBERNETES_CONNECTION] = _local_kubernetes_connection(env, site)
    probes = {kind: _probe(container[kind], site) for kind in PROBES if kind in container}
    return LocalProcess(container["name"], command_line(container, env, site), env, (), probes)


def _probe(probe: Manifest, site: Site) -> Manifest:
    """The probe against the site's ports: its HTTP or TCP port, and a pod port its exec
    command names (the worker's log server)."""
    moved = copy.deepcopy(probe)
    for action in ("httpGet", "tcpSocket"):
        if action in moved:
            moved[action]["port"] = site.port(moved[action]["port"])
    if "exec" in moved:
        command = moved["exec"]["command"]
        ports = {str(pod): str(site.port(pod)) for pod in site.ports}
        moved["exec"]["command"] = [ports.get(arg, arg) for arg in command]
    return moved


def command_line(container: Manifest, env: Mapping[str, str], site: Site) -> tuple[str, ...]:
    """The kubelet's rule: ``command`` replaces the image's entrypoint and ``args`` follow
    it, with $(VAR) references expanded in both; a ``--port`` given is the site's. A command
    that names the image's entrypoint runs the site's."""
    command = list(container.get("command") or [])
    entrypoint = () if command else site.entrypoint
    if tuple(command[: len(IMAGE_ENTRYPOINT)]) == IMAGE_ENTRYPOINT:
        entrypoint, command = site.entrypoint, command[len(IMAGE_ENTRYPOINT) :]
    given = [expand(arg, env) for arg in (*command, *container.get("args", []))]
    ported = [
        str(site.port(int(arg))) if before == "--port" and arg.isdigit() else arg
        for before, arg in zip(["", *given], given, strict=False)
    ]
    return (*entrypoint, *ported)


def _port_env(env: Mapping[str, str], site: Site) -> dict[str, str]:
    """The port settings the container has, moved to the site's ports; the metrics
    collector's port, and where the Airflow processes find it."""
    moved = {
        env_name(*setting): str(site.port(port))
        for port, setting in PORT_SETTINGS.items()
        if env_name(*setting) in env
    }
    if "FARFLOW_METRICS_PORT" in env:
        moved["FARFLOW_METRICS_PORT"] = str(site.port(METRICS_PORT))
    if METRICS_ENDPOINT in env:
        moved[METRICS_ENDPOINT] = f"http://{site.host}:{site.port(METRICS_PORT)}/v1/metrics"
    return moved


def relocated(value: str, site: Site) -> str:
    """An image folder named in a value (alone, as a prefix or inside JSON) becomes its local
    stand-in."""
    for image_path, local in site.image_paths.items():
        pattern = re.escape(image_path.rstrip("/")) + r'(?=$|[/"])'
        value = re.sub(pattern, partial(_folder, str(local)), value)
    return value


def _folder(folder: str, _: re.Match[str]) -> str:
    return folder


def _values(manifest: Manifest) -> dict[str, str]:
    values = dict(manifest.get("stringData") or {})
    if manifest["kind"] == "Secret":
        encoded = manifest.get("data") or {}
        values |= {key: base64.b64decode(value).decode() for key, value in encoded.items()}
    else:
        values |= manifest.get("data") or {}
    return values


def _container_env(container: Manifest, objects: Objects) -> dict[str, str]:
    """Environment in the kubelet's order: envFrom first, then env entries, expanding
    $(VAR) references to variables defined before them."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= objects.all("ConfigMap", source["configMapRef"]["name"])
        if "secretRef" in source:
            env |= objects.all("Secret", source["secretRef"]["name"])
    for entry in container.get("env", []):
        env[entry["name"]] = _entry_value(entry, objects, env)
    return env


def _entry_value(entry: Manifest, objects: Objects, env: dict[str, str]) -> str:
    source = entry.get("valueFrom")
    if source is None:
        return expand(entry.get("value", ""), env)
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        return objects.get("Secret", ref["name"], ref["key"])
    ref = source["configMapKeyRef"]
    return objects.get("ConfigMap", ref["name"], ref["key"])


def _mount(
    pod_spec: Manifest, container: Manifest, objects: Objects, root: Path
) -> dict[str, Path]:
    """Writes the container's ConfigMap volumes under root; mount path -> local directory."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", []) if "configMap" in v}
    mounted: dict[str, Path] = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"])
        if volume is None:
            continue
        local = root / mount["mountPath"].lstrip("/")
        local.mkdir(parents=True, exist_ok=True)
        for key, text in objects.all("ConfigMap", volume["configMap"]["name"]).items():
            (local / key).write_text(text)
        mounted[mount["mountPath"]] = local
    return mounted


def _empty_dirs(pod_spec: Manifest, container: Manifest, root: Path) -> dict[str, Path]:
    """The container's emptyDir volumes as folders under root; mount path -> local folder."""
    empty = {v["name"] for v in pod_spec.get("volumes", []) if "emptyDir" in v}
    mounted: dict[str, Path] = {}
    for mount in container.get("volumeMounts", []):
        if mount["name"] in empty:
            mounted[mount["mountPath"]] = root / mount["name"]
            mounted[mount["mountPath"]].mkdir(parents=True, exist_ok=True)
    return mounted


def _remount(value: str, mounts: Mapping[str, Path]) -> str:
    """A mount path in a value, alone, as a prefix, or in a list of paths (PYTHONPATH)."""
    return ":".join(_remount_path(part, mounts) for part in value.split(":"))


def _remount_path(value: str, mounts: Mapping[str, Path]) -> str:
    for mount_path, local in mounts.items():
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return str(local) + value[len(mount_path.rstrip("/")) :]
    return value


def site_env(site: Site) -> dict[str, str]:
    """What a process here has where a pod has the cluster: the API server's address, the
    credentials, a home."""
    env = {
        "AIRFLOW_HOME": str(site.home),
        env_name("core", "execution_api_server_url"): f"{site.api_url}/execution/",
        **site.env,
    }
    if site.kubeconfig is not None:
        env |= {
            "KUBECONFIG": str(site.kubeconfig),
            env_name("kubernetes_executor", "in_cluster"): "False",
            env_name("kubernetes_executor", "config_file"): str(site.kubeconfig),
        }
    return env


def _local_kubernetes_connection(env: Mapping[str, str], site: Site) -> str:
    """The pod operator's connection, from the cluster's kubeconfig instead of in-cluster."""
    connection: dict[str, Any] = json.loads(env.get(KUBERNETES_CONNECTION, "{}") or "{}")
    connection.setdefault("conn_type", "kubernetes")
    extra = dict(connection.get("extra") or {})
    extra["in_cluster"] = False
    if site.kubeconfig is not None:
        extra["kube_config_path"] = str(site.kubeconfig)
    connection["extra"] = extra
    return json.dumps(connection)
