"""kopf registrations only: creation, updates, resumption and a resync timer all call the
one reconcile."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

import kopf

from farflow.api.resource import GROUP, PLURAL, VERSION
from farflow.aws.session import AwsError
from farflow.kube.client import Kube
from farflow.objects import FINALIZER
from farflow.reconcile import InvalidSpecError, clean_up, reconcile

RESOURCE = (GROUP, VERSION, PLURAL)


@cache
def _kube() -> Kube:
    return Kube()


def register(resync_seconds: float) -> None:
    """Registers the handlers with kopf; the resync timer fires every ``resync_seconds``."""
    kopf.on.startup()(configure)
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
    for noisy in ("kubernetes", "botocore", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def on_change(body: kopf.Body, **_: Any) -> None:
    _reconcile(body)


def resync(body: kopf.Body, **_: Any) -> None:
    _reconcile(body)


def on_delete(body: kopf.Body, **_: Any) -> None:
    try:
        delay = clean_up(_plain(body), _kube())
    except AwsError as error:  # e.g. a missing IAM right: say which, and try again later
        raise kopf.TemporaryError(f"AWS cleanup failed: {error}", delay=60) from error
    if delay is not None:
        raise kopf.TemporaryError("AWS cleanup still running", delay=delay)


def _reconcile(body: kopf.Body) -> None:
    try:
        delay = reconcile(_plain(body), _kube())
    except InvalidSpecError as error:
        raise kopf.PermanentError(f"invalid spec: {error}") from error
    if delay is not None:
        raise kopf.TemporaryError("still converging", delay=delay)


def _plain(value: Any) -> Any:
    """kopf's read-only views as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
