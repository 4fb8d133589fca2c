"""Kubernetes Events on the AirflowCluster for each step: created, migrating, rolled, failed."""

from __future__ import annotations

import datetime
import socket
from typing import Any

from farflow.kube.client import Kube


def emit(
    kube: Kube, body: dict[str, Any], reason: str, message: str, warning: bool = False
) -> None:
    meta = body["metadata"]
    now = datetime.datetime.now(datetime.UTC).isoformat()
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": body["apiVersion"],
                "kind": body["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "reason": reason,
            "message": message,
            "type": "Warning" if warning else "Normal",
            "source": {"component": "farflow-operator", "host": socket.gethostname()},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
    )
