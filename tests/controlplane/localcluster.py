"""A real local Kubernetes control plane for FarFlow's cluster tests.

Runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok as processes bound
to 127.0.0.1, from the binaries that tests/controlplane/build.sh puts in .farflow/bin. kwok
plays the kubelet of three simulated EKS Fargate nodes: pods get scheduled, become Running and
Ready, and Job pods succeed, but no container ever runs. kwok also serves the nodes' kubelet
API over HTTPS, so pod logs work: every container's are the lines of kwok-container.log.

One implementation for both callers: `make cluster-up` / `make cluster-down` use the CLI at
the bottom (`python tests/controlplane/localcluster.py up|down|status`), and
tests/fixtures/controlplane.py calls up() and down() on a temporary state directory.

State directory layout: kubeconfig (admin), audit.log, pids, logs/<component>.log, and
cluster/ (certificates, etcd data, component configuration), rebuilt on every `up`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = REPO_ROOT / ".farflow" / "bin"
DEFAULT_STATE_DIR = REPO_ROOT / ".farflow"
BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
)
KWOK_STAGES = BIN_DIR / "kwok-stages.yaml"
# The patches build.sh applies to kwok; it publishes a copy of each beside the binaries.
KWOK_PATCHES = tuple(sorted(Path(__file__).parent.glob("kwok/*.patch")))
KWOK_TASK_STAGES = Path(__file__).with_name("kwok-task-stages.yaml")
# What kwok answers for pod logs; `up` writes it to the state directory with absolute paths.
KWOK_LOGS = Path(__file__).with_name("kwok-logs.yaml")

HOST = "127.0.0.1"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.0.128.0/17"
FRONT_PROXY_CLIENT = "front-proxy-client"
# The annotation kwok is told to look for: it manages (plays the kubelet of) these nodes only.
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.2
STOP_POLL_INTERVAL = 0.05


class ClusterError(RuntimeError):
    """The control plane could not be started or stopped; the message says which part."""


# --- ports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    """The loopback ports the control plane listens on."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int

    @classmethod
    def pick(cls, **fixed: int) -> Ports:
        """Free ports for every field not given in ``fixed`` (e.g. ``apiserver=6443``)."""
        unknown = set(fixed) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown ports: {sorted(unknown)}")
        wanted = [f.name for f in fields(cls) if f.name not in fixed]
        return cls(**fixed, **dict(zip(wanted, _free_ports(len(wanted)), strict=True)))


def _free_ports(count: int) -> list[int]:
    # Hold every socket until all are picked so the ports are distinct.
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# --- state directory ---------------------------------------------------------------------


@dataclass(frozen=True)
class StatePaths:
    """Where one control plane keeps its files."""

    root: Path

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit.log"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def work(self) -> Path:
        return self.root / "cluster"

    @property
    def pki(self) -> Path:
        return self.work / "pki"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def reset(self) -> None:
        """Removes what a previous `up` left; keeps anything else (e.g. .farflow/bin)."""
        for directory in (self.work, self.logs):
            shutil.rmtree(directory, ignore_errors=True)
        for path in (self.kubeconfig, self.audit_log, self.pids):
            path.unlink(missing_ok=True)
        self.pki.mkdir(parents=True)
        self.logs.mkdir()


# --- certificates ------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path


class CertificateAuthority:
    """The cluster CA: signs serving certificates and client identities (ECDSA P-256)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "farflow-local-ca")])
        self._cert = (
            _certificate_builder(name, self._key.public_key())
            .issuer_name(name)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.files = self._write("ca", self._cert, self._key)

    def issue(
        self,
        name: str,
        common_name: str,
        *,
        server: bool,
        groups: tuple[str, ...] = (),
        names: x509.SubjectAlternativeName | None = None,
    ) -> KeyPair:
        """A certificate for a loopback server (``server``) or a client identity.

        A server certificate is valid for ``names``, by default the API server's.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            _certificate_builder(x509.Name(attributes), key.public_key())
            .issuer_name(self._cert.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            builder = builder.add_extension(names or _apiserver_names(), critical=False)
        return self._write(name, builder.sign(self._key, hashes.SHA256()), key)

    def _write(self, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> KeyPair:
        pair = KeyPair(self.directory / f"{name}.crt", self.directory / f"{name}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private_key(pair.key, key)
        return pair


def _certificate_builder(
    subject: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _apiserver_names() -> x509.SubjectAlternativeName:
    # Loopback, plus the names and service IP in-cluster clients use for the API server.
    dns = ["kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    dns.append("kubernetes.default.svc.cluster.local")
    return _loopback_names(*dns, service_ip=next(ipaddress.IPv4Network(SERVICE_CIDR).hosts()))


def _loopback_names(
    *dns: str, service_ip: ipaddress.IPv4Address | None = None
) -> x509.SubjectAlternativeName:
    """127.0.0.1 and localhost, plus ``dns`` and ``service_ip``."""
    ips = [ipaddress.IPv4Address(HOST), *([service_ip] if service_ip else [])]
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in ("localhost", *dns)]
    return x509.SubjectAlternativeName(names + [x509.IPAddress(ip) for ip in ips])


def _write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


@dataclass(frozen=True)
class Pki:
    """Every certificate and key the control plane uses."""

    ca: KeyPair
    apiserver: KeyPair
    controller_manager_serving: KeyPair
    scheduler_serving: KeyPair
    admin: KeyPair
    front_proxy_client: KeyPair
    controller_manager: KeyPair
    scheduler: KeyPair
    kwok: KeyPair
    kwok_serving: KeyPair
    apiserver_kubelet_client: KeyPair
    service_account_key: Path
    service_account_public_key: Path


def make_pki(directory: Path) -> Pki:
    ca = CertificateAuthority(directory)
    sa_key = ec.generate_private_key(ec.SECP256R1())
    sa_private, sa_public = directory / "sa.key", directory / "sa.pub"
    _write_private_key(sa_private, sa_key)
    sa_public.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return Pki(
        ca=ca.files,
        apiserver=ca.issue("apiserver", "kube-apiserver", server=True),
        controller_manager_serving=ca.issue("kcm-serving", "kube-controller-manager", server=True),
        scheduler_serving=ca.issue("scheduler-serving", "kube-scheduler", server=True),
        admin=ca.issue("admin", "kubernetes-admin", server=False, groups=("system:masters",)),
        front_proxy_client=ca.issue("front-proxy-client", FRONT_PROXY_CLIENT, server=False),
        # The identities RBAC's bootstrap policy already binds.
        controller_manager=ca.issue(
            "controller-manager", "system:kube-controller-manager", server=False
        ),
        scheduler=ca.issue("scheduler", "system:kube-scheduler", server=False),
        # "system:" so audit-log readers can tell kwok's simulated kubelet from real clients.
        kwok=ca.issue("kwok", "system:kwok", server=False, groups=("system:masters",)),
        # kwok's kubelet server, which the API server reaches at 127.0.0.1 for pod logs.
        kwok_serving=ca.issue("kwok-serving", "kwok", server=True, names=_loopback_names()),
        # The API server's identity towards kubelets, named as kubeadm names it.
        apiserver_kubelet_client=ca.issue(
            "apiserver-kubelet-client",
            "kube-apiserver-kubelet-client",
            server=False,
            groups=("system:masters",),
        ),
        service_account_key=sa_private,
        service_account_public_key=sa_public,
    )


def write_kubeconfig(path: Path, server: str, ca: Path, user: str, client: KeyPair) -> None:
    """A self-contained kubeconfig (certificates embedded) for one identity."""

    def embedded(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "farflow-local",
                "cluster": {"server": server, "certificate-authority-data": embedded(ca)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": embedded(client.cert),
                    "client-key-data": embedded(client.key),
                },
            }
        ],
        "contexts": [
            {"name": "farflow-local", "context": {"cluster": "farflow-local", "user": user}}
        ],
        "current-context": "farflow-local",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


# --- HTTP checks against the components --------------------------------------------------


class Probe:
    """GETs and POSTs to the control plane over loopback, verifying TLS against the cluster CA."""

    def __init__(self, pki: Pki) -> None:
        context = ssl.create_default_context(cafile=str(pki.ca.cert))
        context.load_cert_chain(str(pki.admin.cert), str(pki.admin.key))
        # No proxy: everything is on 127.0.0.1, whatever HTTP(S)_PROXY says.
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )

    def ok(self, url: str) -> bool:
        """Whether ``url`` answers 200 now."""
        try:
            with self._opener.open(url, timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def get_json(self, url: str) -> Any:
        with self._opener.open(url, timeout=10) as response:
            return json.load(response)

    def post_json(self, url: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with self._opener.open(request, timeout=10):
            pass


# --- processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Process:
    """One started component, as recorded in the pids file."""

    name: str
    pid: int
    argv0: str

    def alive(self) -> bool:
        """Running, and still the process we started (not a reused PID)."""
        if not _running(self.pid):
            return False
        # A child of this Python process is ours for sure (its command line reads empty
        # for a moment after exec); otherwise the command line must match.
        return _is_child(self.pid) or _argv0(self.pid) == self.argv0

    def signal(self, sig: signal.Signals) -> None:
        # Each component leads its own session, so this reaches anything it started too.
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)


def spawn(name: str, argv: list[str], log: Path) -> Process:
    """Starts ``argv`` detached in its own session, stdout and stderr appended to ``log``.

    posix_spawn rather than subprocess.Popen: under `make cluster-up` the process outlives
    this Python process, and it is tracked by PID (the pids file) in every case.
    """
    pid = os.posix_spawn(
        argv[0],
        argv,
        os.environ,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    return Process(name, pid, argv[0])


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process; reaps it if it is an exited child of ours."""
    with contextlib.suppress(ChildProcessError):  # not our child: started by an earlier `up`
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # exited between the two looks: reap it (does not block)
        return False
    return True


def _is_child(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return True


def _argv0(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except FileNotFoundError:
        return ""


def read_pids(paths: StatePaths) -> list[Process]:
    if not paths.pids.exists():
        return []
    return [Process(**entry) for entry in json.loads(paths.pids.read_text())]


def _write_pids(paths: StatePaths, processes: list[Process]) -> None:
    paths.pids.write_text(json.dumps([asdict(p) for p in processes], indent=2) + "\n")


def stop(processes: list[Process], timeout: float = STOP_TIMEOUT) -> list[Process]:
    """Stops ``processes`` in reverse start order, each before the next; returns survivors.

    One at a time because the API server shuts down cleanly (in about a second) only while
    etcd still answers; with etcd gone it hangs until killed.
    """
    return [process for process in reversed(processes) if not _stop_one(process, timeout)]


def _stop_one(process: Process, timeout: float) -> bool:
    """SIGTERM, then SIGKILL if it outlives ``timeout``; whether it is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        process.signal(sig)
        deadline = time.monotonic() + wait
        while process.alive():
            if time.monotonic() > deadline:
                break
            time.sleep(STOP_POLL_INTERVAL)
        else:
            return True
    return False


def log_tail(log: Path, lines: int = 30) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# --- the components ----------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """How to start one part of the control plane and how to tell it is serving."""

    name: str
    argv: list[str]
    health_url: str


def components(paths: StatePaths, ports: Ports, pki: Pki) -> list[list[Component]]:
    """The components in start order; each group waits for the groups before it."""
    return [
        [_etcd(paths, ports)],
        [_apiserver(paths, ports, pki)],
        [
            _controller_manager(paths, ports, pki),
            _scheduler(paths, ports, pki),
            _kwok(paths, ports, pki),
        ],
    ]


def _binary(name: str) -> str:
    return str(BIN_DIR / name)


def _etcd(paths: StatePaths, ports: Ports) -> Component:
    client, peer = f"http://{HOST}:{ports.etcd_client}", f"http://{HOST}:{ports.etcd_peer}"
    argv = [
        _binary("etcd"),
        "--name=farflow",
        f"--data-dir={paths.work / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=farflow={peer}",
        # Throwaway test data: durability is not worth the fsync latency.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]
    return Component("etcd", argv, f"{client}/health")


def _apiserver(paths: StatePaths, ports: Ports, pki: Pki) -> Component:
    audit_policy = paths.work / "audit-policy.yaml"
    audit_policy.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "audit.k8s.io/v1",
                "kind": "Policy",
                # One line per request (at ResponseComplete) so tests can count requests.
                "omitStages": ["RequestReceived"],
                "rules": [{"level": "Metadata"}],
            }
        )
    )
    argv = [
        _binary("kube-apiserver"),
        f"--etcd-servers=http://{HOST}:{ports.etcd_client}",
        f"--bind-address={HOST}",
        f"--advertise-address={HOST}",
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={paths.work / 'apiserver'}",
        f"--tls-cert-file={pki.apiserver.cert}",
        f"--tls-private-key-file={pki.apiserver.key}",
        f"--client-ca-file={pki.ca.cert}",
        f"--service-account-key-file={pki.service_account_public_key}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=RBAC",
        # The aggregation layer's front proxy, which controller-manager and scheduler expect.
        f"--requestheader-client-ca-file={pki.ca.cert}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.front_proxy_client.cert}",
        f"--proxy-client-key-file={pki.front_proxy_client.key}",
        # Pod logs: the API server reaches the nodes' kubelet, kwok, at the node's InternalIP
        # (127.0.0.1) and kubelet port, over HTTPS verified against the cluster CA.
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-certificate-authority={pki.ca.cert}",
        f"--kubelet-client-certificate={pki.apiserver_kubelet_client.cert}",
        f"--kubelet-client-key={pki.apiserver_kubelet_client.key}",
        # The endpoints of the `kubernetes` Service may not be a loopback address.
        "--endpoint-reconciler-type=none",
        f"--audit-policy-file={audit_policy}",
        f"--audit-log-path={paths.audit_log}",
        "--profiling=false",
    ]
    return Component("kube-apiserver", argv, f"https://{HOST}:{ports.apiserver}/readyz")


def _client_flags(kubeconfig: Path, serving: KeyPair, port: int) -> list[str]:
    """Flags controller-manager and scheduler share: identity, and a loopback HTTPS server."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={HOST}",
        f"--secure-port={port}",
        f"--tls-cert-file={serving.cert}",
        f"--tls-private-key-file={serving.key}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def _controller_manager(paths: StatePaths, ports: Ports, pki: Pki) -> Component:
    kubeconfig = paths.work / "controller-manager.kubeconfig"
    _component_kubeconfig(
        kubeconfig, ports, pki, "system:kube-controller-manager", pki.controller_manager
    )
    argv = [
        _binary("kube-controller-manager"),
        *_client_flags(kubeconfig, pki.controller_manager_serving, ports.controller_manager),
        # Every controller that is on by default: deployment, replicaset, job, garbage
        # collector, namespace, serviceaccount(-token), endpoints, endpointslice, ...
        "--controllers=*",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.service_account_key}",
        f"--root-ca-file={pki.ca.cert}",
        f"--cluster-signing-cert-file={pki.ca.cert}",
        f"--cluster-signing-key-file={pki.ca.key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # A CPU-starved test machine can delay kwok's node heartbeats; don't evict for that.
        "--node-monitor-grace-period=5m",
    ]
    return Component(
        "kube-controller-manager", argv, f"https://{HOST}:{ports.controller_manager}/healthz"
    )


def _scheduler(paths: StatePaths, ports: Ports, pki: Pki) -> Component:
    kubeconfig = paths.work / "scheduler.kubeconfig"
    _component_kubeconfig(kubeconfig, ports, pki, "system:kube-scheduler", pki.scheduler)
    argv = [
        _binary("kube-scheduler"),
        *_client_flags(kubeconfig, pki.scheduler_serving, ports.scheduler),
    ]
    return Component("kube-scheduler", argv, f"https://{HOST}:{ports.scheduler}/healthz")


def _kwok(paths: StatePaths, ports: Ports, pki: Pki) -> Component:
    kubeconfig = paths.work / "kwok.kubeconfig"
    _component_kubeconfig(kubeconfig, ports, pki, "system:kwok", pki.kwok)
    argv = [
        _binary("kwok"),
        f"--kubeconfig={kubeconfig}",
        # kwok's own default stages (node-initialize, node-heartbeat, pod-ready, pod-complete
        # for Job pods, pod-delete), taken from the pinned kwok module by build.sh.
        f"--config={KWOK_STAGES}",
        # ...and how the pods Airflow creates end (kwok runs no containers).
        f"--config={KWOK_TASK_STAGES}",
        # ...and what it answers for pod logs.
        f"--config={write_kwok_logs_config(paths.work / KWOK_LOGS.name)}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector={}={}".format(*KWOK_NODE_ANNOTATION),
        f"--cidr={POD_CIDR}",
        # The kubelet server (pod logs), HTTPS with a certificate from the cluster CA. kwok
        # multiplexes plain HTTP on the same port; it asks for no client certificate.
        f"--server-address={HOST}:{ports.kwok}",
        f"--tls-cert-file={pki.kwok_serving.cert}",
        f"--tls-private-key-file={pki.kwok_serving.key}",
        # What kwok's node-initialize stage writes to a node's status if missing: fargate_node
        # sets both already (InternalIP 127.0.0.1, kubelet port), kwok keeps them the same.
        f"--node-ip={HOST}",
        f"--node-port={ports.kwok}",
    ]
    return Component("kwok", argv, f"https://{HOST}:{ports.kwok}/healthz")


def write_kwok_logs_config(path: Path) -> Path:
    """kwok-logs.yaml with each ``logsFile`` made absolute (relative ones are to its directory).

    kwok resolves a relative path against its working directory, which is wherever `up` ran.
    """
    documents = list(yaml.safe_load_all(KWOK_LOGS.read_text()))
    for document in documents:
        for log in document["spec"]["logs"]:
            for key in ("logsFile", "previousLogsFile"):
                if key in log:
                    log[key] = str((KWOK_LOGS.parent / log[key]).resolve())
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def _component_kubeconfig(path: Path, ports: Ports, pki: Pki, user: str, client: KeyPair) -> None:
    write_kubeconfig(path, _server(ports), pki.ca.cert, user, client)


def _server(ports: Ports) -> str:
    return f"https://{HOST}:{ports.apiserver}"


# --- simulated Fargate nodes -------------------------------------------------------------

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


# What each simulated node offers; a caller modelling many Fargate pods passes more.
NODE_RESOURCES = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "20Gi"}


def fargate_node(
    index: int, kubelet_port: int, resources: dict[str, str] = NODE_RESOURCES
) -> dict[str, Any]:
    """A Node as EKS Fargate registers one, for kwok to play the kubelet of.

    Named and labelled as on EKS (the name carries the private IP a Fargate node would have),
    but its InternalIP is 127.0.0.1 and its kubelet port kwok's: that is where the API server
    finds the kubelet for pod logs. Real Fargate runs one pod per node; these take 110 so
    tests need only three nodes.
    """
    zone = ZONES[index % len(ZONES)]
    name = f"fargate-ip-10-0-{index + 1}-10.ec2.internal"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION[0]: KWOK_NODE_ANNOTATION[1]},
            "labels": {
                "eks.amazonaws.com/compute-type": "fargate",
                "topology.kubernetes.io/region": "us-east-1",
                "topology.kubernetes.io/zone": zone,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": HOST},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
            "allocatable": resources,
            "capacity": resources,
        },
    }


def _node_ready(node: dict[str, Any]) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


# --- the cluster -------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalCluster:
    """A running local control plane, as the tests and the CLI see it."""

    state_dir: Path
    server: str
    nodes: tuple[str, ...]

    @property
    def kubeconfig(self) -> Path:
        return StatePaths(self.state_dir).kubeconfig

    @property
    def audit_log(self) -> Path:
        return StatePaths(self.state_dir).audit_log

    def kubectl_argv(self, *args: str) -> list[str]:
        """The built kubectl's command line against this cluster."""
        return [_binary("kubectl"), f"--kubeconfig={self.kubeconfig}", *args]

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Runs the built kubectl against this cluster; raises with its stderr if ``check``."""
        argv = self.kubectl_argv(*args)
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, argv, result.stdout, result.stderr)
        return result

    def audit_events(self) -> Iterator[dict[str, Any]]:
        """The audit log's events so far (one per completed API request)."""
        with self.audit_log.open() as log:
            for line in log:
                yield json.loads(line)


class KubectlError(subprocess.CalledProcessError):
    """A failed kubectl call, shown with what kubectl printed on stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr:\n{self.stderr}"


class _Startup:
    """Starts components and waits on conditions, failing fast when a component dies."""

    def __init__(self, paths: StatePaths, deadline: float) -> None:
        self.paths = paths
        self.deadline = deadline
        self.started: list[Process] = []

    def start(self, component: Component) -> None:
        self.started.append(spawn(component.name, component.argv, self.paths.log(component.name)))
        _write_pids(self.paths, self.started)

    def wait(self, what: str, condition: Callable[[], bool], blame: str) -> None:
        """Polls ``condition``; on a timeout shows the log of ``blame``."""
        while True:
            for process in self.started:
                if not process.alive():
                    raise self._error(
                        f"{process.name} exited while waiting for {what}", process.name
                    )
            if condition():
                return
            if time.monotonic() > self.deadline:
                raise self._error(f"timed out waiting for {what}", blame)
            time.sleep(POLL_INTERVAL)

    def _error(self, message: str, component: str) -> ClusterError:
        log = self.paths.log(component)
        return ClusterError(f"{message}\n--- last lines of {log} ---\n{log_tail(log)}")


def up(
    state_dir: Path = DEFAULT_STATE_DIR,
    ports: Ports | None = None,
    timeout: float = 180.0,
    node_resources: dict[str, str] = NODE_RESOURCES,
) -> LocalCluster:
    """Starts a fresh control plane with three simulated Fargate nodes, all Ready, each
    offering ``node_resources`` (allocatable and capacity).

    On any failure everything started so far is stopped again before the error propagates.
    """
    _require_binaries()
    paths = StatePaths(state_dir.resolve())
    if any(p.alive() for p in read_pids(paths)):
        raise ClusterError(
            f"a control plane is already running from {paths.root}; run `down` first"
        )
    paths.reset()
    ports = ports or Ports.pick()
    pki = make_pki(paths.pki)
    write_kubeconfig(paths.kubeconfig, _server(ports), pki.ca.cert, "kubernetes-admin", pki.admin)
    startup = _Startup(paths, time.monotonic() + timeout)
    try:
        nodes = _start(startup, ports, pki, node_resources)
    except BaseException:
        down(paths.root)
        raise
    return LocalCluster(paths.root, _server(ports), nodes)


def _start(
    startup: _Startup, ports: Ports, pki: Pki, node_resources: dict[str, str]
) -> tuple[str, ...]:
    """Starts every component and registers the nodes; returns the node names."""
    probe = Probe(pki)
    for group in components(startup.paths, ports, pki):
        for component in group:
            startup.start(component)
        for component in group:
            url = component.health_url
            startup.wait(f"{component.name} to serve {url}", partial(probe.ok, url), component.name)
    api = _server(ports)
    nodes = [fargate_node(i, ports.kwok, node_resources) for i in range(len(ZONES))]
    for node in nodes:
        probe.post_json(f"{api}/api/v1/nodes", node)
    names = tuple(node["metadata"]["name"] for node in nodes)

    def all_ready() -> bool:
        listed = probe.get_json(f"{api}/api/v1/nodes")["items"]
        return sum(_node_ready(n) for n in listed if n["metadata"]["name"] in names) == len(names)

    startup.wait("the simulated Fargate nodes to be Ready", all_ready, "kwok")
    # Pods are rejected until their namespace has its default ServiceAccount.
    default_sa = f"{api}/api/v1/namespaces/default/serviceaccounts/default"
    startup.wait(
        "the default ServiceAccount", lambda: probe.ok(default_sa), "kube-controller-manager"
    )
    return names


def missing_binaries() -> list[str]:
    """What build.sh should have put in .farflow/bin but has not.

    A kwok built before one of the patches in kwok/*.patch existed counts as missing.
    """
    wanted = (*BINARIES, KWOK_STAGES.name, *(patch.name for patch in KWOK_PATCHES))
    return [name for name in wanted if not (BIN_DIR / name).exists()]


def _require_binaries() -> None:
    missing = missing_binaries()
    if missing:
        raise ClusterError(
            f"missing in {BIN_DIR}: {', '.join(missing)}; "
            "build them with `bash tests/controlplane/build.sh` (make controlplane)"
        )


def down(state_dir: Path = DEFAULT_STATE_DIR) -> list[str]:
    """Stops every process `up` started from ``state_dir``; safe to call again.

    Returns the names of the components that were still running.
    """
    paths = StatePaths(state_dir.resolve())
    processes = read_pids(paths)
    running = [p.name for p in processes if p.alive()]
    survivors = stop(processes)
    if survivors:
        names = ", ".join(f"{p.name} (pid {p.pid})" for p in survivors)
        raise ClusterError(f"could not stop {names}")
    paths.pids.unlink(missing_ok=True)
    return running


def status(state_dir: Path = DEFAULT_STATE_DIR) -> dict[str, bool]:
    """Whether each recorded component is running, by name."""
    return {p.name: p.alive() for p in read_pids(StatePaths(state_dir.resolve()))}


# --- command line ------------------------------------------------------------------------


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, for copy-pasting."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def _cli_up(args: argparse.Namespace) -> int:
    fixed = {"apiserver": args.apiserver_port} if args.apiserver_port else {}
    cluster = up(args.state_dir, Ports.pick(**fixed), timeout=args.timeout)
    paths = StatePaths(cluster.state_dir)
    print(f"Local control plane up at {cluster.server} with nodes {', '.join(cluster.nodes)}")
    print(
        f"  export KUBECONFIG={_shown(paths.kubeconfig)}; {_shown(BIN_DIR / 'kubectl')} get nodes"
    )
    print(f"  logs: {_shown(paths.logs)}/  audit log: {_shown(paths.audit_log)}")
    print("  stop it with: make cluster-down")
    return 0


def _cli_down(args: argparse.Namespace) -> int:
    stopped = down(args.state_dir)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def _cli_status(args: argparse.Namespace) -> int:
    states = status(args.state_dir)
    if not states:
        print("not started")
        return 1
    for name, alive in states.items():
        print(f"{name:<24} {'running' if alive else 'stopped'}")
    return 0 if all(states.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--apiserver-port", type=int, help="default: a free port")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds for `up`")
    args = parser.parse_args(argv)
    command = {"up": _cli_up, "down": _cli_down, "status": _cli_status}[args.command]
    try:
        return command(args)
    except ClusterError as error:
        print(f"localcluster {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
