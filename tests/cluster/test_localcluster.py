"""localcluster's own promises: `down` leaves nothing running, failures name the component."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.controlplane.localcluster import ClusterError, Ports, StatePaths, down, read_pids, up

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("controlplane_binaries")]


def running_from(state_dir: Path) -> list[str]:
    """Command lines of live processes that use ``state_dir`` (every component does)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:  # exited meanwhile
            continue
        if any(str(state_dir).encode() in arg for arg in argv):
            found.append(argv[0].decode())
    return found


def test_down_stops_everything_and_can_repeat(tmp_path: Path) -> None:
    cluster = up(tmp_path)
    try:
        processes = read_pids(StatePaths(tmp_path))
        assert [p.name for p in processes if p.alive()] == [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
        ]
        assert len(running_from(tmp_path)) == 5
        with pytest.raises(ClusterError, match="already running"):
            up(tmp_path)
        assert cluster.kubectl("get", "nodes", "-o", "name").stdout.count("node/") == 3
    finally:
        stopped = down(tmp_path)

    assert len(stopped) == 5
    assert running_from(tmp_path) == []
    assert down(tmp_path) == []


def test_a_component_that_cannot_start_is_named_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = Ports.pick(apiserver=taken.getsockname()[1])

        with pytest.raises(ClusterError, match="kube-apiserver") as failure:
            up(tmp_path, ports)

    assert "address already in use" in str(failure.value)
    assert running_from(tmp_path) == []
