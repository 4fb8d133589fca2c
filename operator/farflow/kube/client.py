"""One Kubernetes API client for the operator, from in-cluster credentials or KUBECONFIG.

Every request has a timeout: without one, a connection that goes silent (a load balancer
failing over, a dropped conntrack entry) would pin a handler thread, and its object, forever.
"""

from __future__ import annotations

import contextlib
import json
import time
from functools import cache
from typing import Any

from kubernetes import client, config
from kubernetes.client import rest
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import (
    NotFoundError,
    ResourceNotFoundError,
    UnprocessibleEntityError,
)
from urllib3.exceptions import HTTPError

from farflow.objects import Manifest

UNSERVED_SECONDS = 300.0


class StaleError(Exception):
    """The object's spec changed since it was read: look at it again."""


# What a failing or unreachable API server raises: answers with an error status, and
# connections that fail or time out.
KUBERNETES_ERRORS = (ApiException, HTTPError)
TIMEOUT = (5.0, 30.0)  # seconds to connect, and to wait for each answer


def describe(error: ApiException | HTTPError) -> str:
    """What the API server said (or why it said nothing), in one line for status."""
    if not isinstance(error, ApiException):
        return f"the API server did not answer: {type(error).__name__}"
    message = ""
    try:
        message = json.loads(error.body or "{}").get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return (
        f"{error.status} {error.reason}: {message}" if message else f"{error.status} {error.reason}"
    )


class _TimedRestClient(rest.RESTClientObject):  # type: ignore[misc]
    """The client's HTTP layer, with TIMEOUT wherever a call gives none (discovery too)."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["_request_timeout"] = kwargs.get("_request_timeout") or TIMEOUT
        return super().request(*args, **kwargs)


@cache
def api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()
    except ConfigException:
        config.load_kube_config()
    api = client.ApiClient()
    api.rest_client = _TimedRestClient(api.configuration)
    return api


class Kube:
    """Generic get/apply/create/delete/list of any kind, by apiVersion and kind."""

    def __init__(self, api: client.ApiClient | None = None) -> None:
        self.dynamic = DynamicClient(api or api_client())
        self._resources: dict[tuple[str, str], Any] = {}
        self._unserved: dict[tuple[str, str], float] = {}

    def resource(self, api_version: str, kind: str) -> Any:
        key = (api_version, kind)
        if key not in self._resources:
            self._resources[key] = self.dynamic.resources.get(api_version=api_version, kind=kind)
        return self._resources[key]

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether the API server knows the kind (a CRD's may not be installed). A kind it
        does not know is looked up again only after UNSERVED_SECONDS: each miss makes the
        discovery client read every API group again."""
        missed = self._unserved.get((api_version, kind))
        if missed is not None and time.monotonic() - missed < UNSERVED_SECONDS:
            return False
        try:
            self.resource(api_version, kind)
        except ResourceNotFoundError:
            self._unserved[(api_version, kind)] = time.monotonic()
            return False
        return True

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> Manifest | None:
        """The live object, or None; ``namespace`` is ignored for cluster-scoped kinds."""
        try:
            found = self.resource(api_version, kind).get(name=name, namespace=namespace or None)
        except NotFoundError:
            return None
        live: Manifest = found.to_dict()
        return live

    def list(self, api_version: str, kind: str, namespace: str, selector: str) -> list[Manifest]:
        found = self.resource(api_version, kind).get(namespace=namespace, label_selector=selector)
        return [item.to_dict() for item in found.items]

    def apply(self, manifest: Manifest, field_manager: str) -> None:
        meta = manifest["metadata"]
        self.resource(manifest["apiVersion"], manifest["kind"]).server_side_apply(
            body=manifest,
            name=meta["name"],
            namespace=meta.get("namespace"),
            field_manager=field_manager,
            force_conflicts=True,
        )

    def create(self, manifest: Manifest) -> None:
        resource = self.resource(manifest["apiVersion"], manifest["kind"])
        resource.create(body=manifest, namespace=manifest["metadata"].get("namespace"))

    def replace(self, live: Manifest) -> None:
        """Writes back a changed live object; conflicts if it changed since it was read."""
        resource = self.resource(live["apiVersion"], live["kind"])
        resource.replace(body=live, namespace=live["metadata"].get("namespace"))

    def delete(self, api_version: str, kind: str, name: str, namespace: str) -> None:
        with contextlib.suppress(NotFoundError):
            self.resource(api_version, kind).delete(
                name=name, namespace=namespace, propagation_policy="Background"
            )

    def annotate(
        self, api_version: str, kind: str, name: str, namespace: str, annotations: dict[str, str]
    ) -> None:
        """Merges ``annotations`` into the object's; one gone since it was read is left."""
        with contextlib.suppress(NotFoundError):
            self.resource(api_version, kind).patch(
                body={"metadata": {"annotations": annotations}},
                name=name,
                namespace=namespace,
                content_type="application/merge-patch+json",
            )

    def merge_status(self, live: Manifest, fields: Manifest) -> None:
        """Merges ``fields`` into the object's status (a key set to None is removed)."""
        meta = live["metadata"]
        self.resource(live["apiVersion"], live["kind"]).status.patch(
            body={"status": fields},
            name=meta["name"],
            namespace=meta["namespace"],
            content_type="application/merge-patch+json",
        )

    def patch_status(self, live: Manifest, status: Manifest) -> None:
        """Writes ``status`` whole, only while the object's spec is the generation ``live``
        had: a pass over an older spec fails (422) instead of writing an older
        observedGeneration over a newer one. Metadata changes (kopf's annotations) pass."""
        meta = live["metadata"]
        try:
            self.resource(live["apiVersion"], live["kind"]).status.patch(
                body=[
                    {"op": "test", "path": "/metadata/generation", "value": meta["generation"]},
                    {"op": "add", "path": "/status", "value": status},
                ],
                name=meta["name"],
                namespace=meta["namespace"],
                content_type="application/json-patch+json",
            )
        except UnprocessibleEntityError as error:
            if "test" not in str(error.summary()):
                raise
            raise StaleError(f"{meta['name']} is past generation {meta['generation']}") from error
