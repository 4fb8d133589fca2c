"""The kubelet's part for the pods Airflow creates in the local control plane.

kwok plays the node (the pod is scheduled, becomes Running, and ends as its stage says) but
runs no containers. For the Kubernetes executor's worker pods the task must really run, so
this runs their init containers and then their container as local processes, resolved from
the pod exactly as the kubelet would (farflow.local), and then writes the exit code where
kwok's `pod-exited` stage (tests/controlplane/kwok-task-stages.yaml) reads it. Every pod seen
is recorded, so tests can check what Airflow asked Kubernetes for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

from farflow.local import LocalProcess
from farflow.local.process import start_container

EXIT_CODE_ANNOTATION = "kwok.farflow.io/exit-code"
EXECUTOR_LABEL = "kubernetes_executor"


class ProcessKubelet:
    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        resolve: Callable[..., LocalProcess],  # (pod spec, pod=name) -> its processes
        logs: Path,
    ) -> None:
        self.namespace, self.resolve, self.logs = namespace, resolve, logs
        self.core = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        self.seen: dict[str, dict[str, Any]] = {}  # pod name -> the pod as first seen
        self._started: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="process-kubelet", daemon=True)

    def __enter__(self) -> ProcessKubelet:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def pods(self, label: str) -> list[dict[str, Any]]:
        return [pod for pod in self.seen.values() if label in pod["metadata"].get("labels", {})]

    def _loop(self) -> None:
        """Watches the namespace's pods, so even a pod that lives under a second is seen."""
        version = self.core.list_namespaced_pod(self.namespace).metadata.resource_version
        while not self._stop.is_set():
            events = watch.Watch().stream(
                self.core.list_namespaced_pod,
                self.namespace,
                resource_version=version,
                timeout_seconds=5,
            )
            for event in events:
                item = event["object"]
                version = item.metadata.resource_version
                self._saw(self.core.api_client.sanitize_for_serialization(item))

    def _saw(self, pod: dict[str, Any]) -> None:
        self.seen.setdefault(pod["metadata"]["name"], pod)
        if self._should_run(pod):
            self._started.add(pod["metadata"]["name"])
            threading.Thread(target=self._run, args=(pod,), daemon=True).start()

    def _should_run(self, pod: dict[str, Any]) -> bool:
        labels = pod["metadata"].get("labels") or {}
        return (
            EXECUTOR_LABEL in labels
            and pod.get("status", {}).get("phase") == "Running"
            and pod["metadata"]["name"] not in self._started
        )

    def _run(self, pod: dict[str, Any]) -> None:
        """The pod's init containers one after the other, then its container, unless one
        of them failed; the pod's exit code is the last one's."""
        name = pod["metadata"]["name"]
        local = self.resolve(pod["spec"], pod=name)
        for container in (*local.init, local):
            log = self.logs / f"pod-{name}-{container.name}.log"
            process = start_container(container, log)
            assert process.popen is not None
            code = process.popen.wait()
            if code != 0:
                break
        annotations = {EXIT_CODE_ANNOTATION: str(code)}
        self.core.patch_namespaced_pod(
            name, self.namespace, {"metadata": {"annotations": annotations}}
        )
