"""kopf registrations only: creation, updates, resumption and a resync timer all call the
one reconcile, one at a time per object."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import kopf

from farflow.api.resource import GROUP, PLURAL, VERSION
from farflow.aws.session import AwsError
from farflow.kube import peering
from farflow.kube.client import KUBERNETES_ERRORS, Kube, StaleError, describe
from farflow.objects import FINALIZER
from farflow.reconcile import InvalidSpecError, clean_up, reconcile

RESOURCE = (GROUP, VERSION, PLURAL)
BUSY_RETRY = 2.0  # seconds before a handler tries again while another reconciles its object
KUBE_RETRY = 10.0


@cache
def _kube() -> Kube:
    return Kube()


def register(resync_seconds: float, peering_namespace: str | None = None) -> None:
    """Registers the handlers with kopf; the resync timer fires every ``resync_seconds``.
    ``peering_namespace``: where the KopfPeering is, for an operator of one namespace."""
    kopf.on.startup()(configure)

    @kopf.on.probe(id="peering")
    def peering_state(settings: kopf.OperatorSettings, **_: Any) -> str:
        """In the liveness answer: whether this replica reconciles (active) or waits."""
        name = "" if settings.peering.standalone else settings.peering.name
        return peering.state(_kube(), name, settings.peering.priority, peering_namespace)

    kopf.on.resume(*RESOURCE)(on_change)
    kopf.on.create(*RESOURCE)(on_change)
    kopf.on.update(*RESOURCE, field="spec")(on_change)
    kopf.timer(*RESOURCE, interval=resync_seconds, initial_delay=resync_seconds)(resync)
    # Every cluster has something to clean up (see farflow.cleanup): kopf adds its finalizer,
    # FINALIZER (see configure), before any handler runs.
    kopf.on.delete(*RESOURCE)(on_delete)


def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # FarFlow posts its own Events for each step; kopf's per-log-line Events would make every
    # resync write to the API.
    settings.posting.enabled = False
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.persistence.finalizer = FINALIZER
    # kopf's own requests and watches give up on a silent connection and reconnect.
    settings.networking.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    for noisy in ("kubernetes", "botocore", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def on_change(body: kopf.Body, **_: Any) -> None:
    _reconcile(body)


def resync(body: kopf.Body, **_: Any) -> None:
    _reconcile(body)


def on_delete(body: kopf.Body, **_: Any) -> None:
    with _one_at_a_time(body):
        try:
            delay = clean_up(_plain(body), _kube())
        except (AwsError, InvalidSpecError) as error:  # status says why; try again later
            raise kopf.TemporaryError(f"cleanup failed: {error}", delay=60) from error
        except StaleError as error:
            raise kopf.TemporaryError(str(error), delay=1) from error
        except KUBERNETES_ERRORS as error:
            raise kopf.TemporaryError(f"Kubernetes API: {describe(error)}", KUBE_RETRY) from error
    if delay is not None:
        raise kopf.TemporaryError("AWS cleanup still running", delay=delay)


def _reconcile(body: kopf.Body) -> None:
    with _one_at_a_time(body):
        try:
            delay = reconcile(_plain(body), _kube())
        except InvalidSpecError as error:
            raise kopf.PermanentError(f"invalid spec: {error}") from error
        except StaleError as error:  # the spec changed meanwhile: look at the new one
            raise kopf.TemporaryError(str(error), delay=1) from error
        except KUBERNETES_ERRORS as error:
            raise kopf.TemporaryError(f"Kubernetes API: {describe(error)}", KUBE_RETRY) from error
    if delay is not None:
        raise kopf.TemporaryError("still converging", delay=delay)


_running: set[str] = set()
_running_lock = threading.Lock()


@contextlib.contextmanager
def _one_at_a_time(body: kopf.Body) -> Iterator[None]:
    """The timer and the change handlers run in parallel threads: one reconciles an object
    while the others try again shortly."""
    uid = body["metadata"]["uid"]
    with _running_lock:
        if uid in _running:
            raise kopf.TemporaryError("another handler reconciles this cluster", BUSY_RETRY)
        _running.add(uid)
    try:
        yield
    finally:
        with _running_lock:
            _running.discard(uid)


def _plain(value: Any) -> Any:
    """kopf's read-only views as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
