"""kopf registrations only: creation, updates, resumption and a jittered resync loop all call
the one reconcile, one at a time per object; watches of the owned kinds feed its reads."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import kopf

from farflow.api.resource import GROUP, PLURAL, VERSION
from farflow.autoscale import AUTOSCALE_SECONDS
from farflow.aws.session import AwsError
from farflow.kube import peering
from farflow.kube.cache import OWNED, CachedKube, index_id, indexed, plain
from farflow.kube.client import KUBERNETES_ERRORS, Kube, StaleError, describe
from farflow.objects import FIELD_MANAGER, FINALIZER, MANAGED_BY_LABEL
from farflow.reconcile import AwsRecheck, InvalidSpecError, clean_up, reconcile
from farflow.scaler import Autoscaler
from farflow.upgrade import ensure_crd

RESOURCE = (GROUP, VERSION, PLURAL)
BUSY_RETRY = 2.0  # seconds before a handler tries again while another reconciles its object
KUBE_RETRY = 10.0
JITTER = 0.2  # each resync waits the period, give or take a fifth, so clusters spread out


@dataclass
class Handlers:
    """The operator's handlers and what they share: the client, the AWS recheck cache, the
    namespaces it watches (None: all) and the objects being reconciled."""

    resync_seconds: float
    namespaces: list[str] | None
    recheck: AwsRecheck
    autoscale_seconds: float = AUTOSCALE_SECONDS
    kube: Kube = field(default_factory=Kube)
    executor: Executor | None = None  # kopf's, for the blocking work of the daemons
    _running: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def apply_crd(self, **_: Any) -> None:
        """The AirflowCluster schema of this release, before any AirflowCluster is handled."""
        ensure_crd(self.kube)

    def use_executor(self, settings: kopf.OperatorSettings, **_: Any) -> None:
        """The daemons run their blocking work in the thread pool of kopf's sync handlers."""
        self.executor = settings.execution.executor

    def on_change(self, body: kopf.Body, **kwargs: Any) -> None:
        self._reconcile(body, kwargs)

    async def resync(self, stopped: kopf.DaemonStopped, body: kopf.Body, **kwargs: Any) -> None:
        """Reconciles the cluster every period for as long as it exists, first after a
        random share of the period (so an operator restart does not resync all at once)."""
        first = random.uniform(0, self.resync_seconds)
        await self._every(stopped, first, lambda: self._resync_pass(body, kwargs))

    def _resync_pass(self, body: kopf.Body, kwargs: Mapping[str, Any]) -> float:
        """One pass of the resync loop; the seconds until the next."""
        try:
            self._reconcile(body, kwargs)
        except kopf.TemporaryError as error:  # sooner if the cluster is converging
            logging.getLogger(__name__).info("resync: %s", error)
            return self._jittered(min(error.delay or self.resync_seconds, self.resync_seconds))
        except kopf.PermanentError as error:  # an invalid spec: status says so
            logging.getLogger(__name__).warning("resync: %s", error)
        return self._jittered(self.resync_seconds)

    async def autoscale(self, stopped: kopf.DaemonStopped, body: kopf.Body, **kwargs: Any) -> None:
        """Scales the cluster's workers on queue depth, every period, beside the reconcile
        (it owns only the workers' replicas)."""
        scaler = Autoscaler()

        def look() -> float:
            try:
                scaler.step(plain(body), self._cached(kwargs))
            except KUBERNETES_ERRORS as error:  # the next look tries again
                logging.getLogger(__name__).warning("autoscale: %s", describe(error))
            return self.autoscale_seconds

        await self._every(stopped, self.autoscale_seconds, look)

    async def _every(
        self, stopped: kopf.DaemonStopped, first: float, step: Callable[[], float]
    ) -> None:
        """Runs ``step`` after ``first`` seconds and then after the seconds each run returns,
        until the daemon is stopped. The wait holds no thread: ``step`` takes one of kopf's
        executor threads only while it runs, so the pool serves any number of clusters."""
        loop = asyncio.get_running_loop()
        delay = first
        while not await stopped.wait(delay):
            delay = await loop.run_in_executor(self.executor, step)

    def on_delete(self, body: kopf.Body, **kwargs: Any) -> None:
        with self._one_at_a_time(body), _kubernetes_faults():
            try:
                delay = clean_up(plain(body), self._cached(kwargs))
            except (AwsError, InvalidSpecError) as error:  # status says why; try again later
                raise kopf.TemporaryError(f"cleanup failed: {error}", delay=60) from error
        if delay is not None:
            raise kopf.TemporaryError("AWS cleanup still running", delay=delay)
        self.recheck.forget(body["metadata"]["uid"])

    def _reconcile(self, body: kopf.Body, kwargs: Mapping[str, Any]) -> None:
        with self._one_at_a_time(body), _kubernetes_faults():
            try:
                delay = reconcile(plain(body), self._cached(kwargs), self.recheck)
            except InvalidSpecError as error:
                raise kopf.PermanentError(f"invalid spec: {error}") from error
        if delay is not None:
            raise kopf.TemporaryError("still converging", delay=delay)

    def _cached(self, kwargs: Mapping[str, Any]) -> Kube:
        """The client, reading the owned objects from the watches kopf keeps for them."""
        indices = {kind: kwargs[index_id(*kind)] for kind in OWNED if index_id(*kind) in kwargs}
        return CachedKube(self.kube, indices, self.namespaces)

    @contextlib.contextmanager
    def _one_at_a_time(self, body: kopf.Body) -> Iterator[None]:
        """The resync loop and the change handlers run in parallel threads: one reconciles
        an object while the others try again shortly."""
        uid = body["metadata"]["uid"]
        with self._lock:
            if uid in self._running:
                raise kopf.TemporaryError("another handler reconciles this cluster", BUSY_RETRY)
            self._running.add(uid)
        try:
            yield
        finally:
            with self._lock:
                self._running.discard(uid)

    @staticmethod
    def _jittered(seconds: float) -> float:
        return seconds * random.uniform(1 - JITTER, 1 + JITTER)


@contextlib.contextmanager
def _kubernetes_faults() -> Iterator[None]:
    """The API server's faults as kopf retries: a spec that changed meanwhile at once (its
    new version comes with the retry), a failing or silent server a little later."""
    try:
        yield
    except StaleError as error:
        raise kopf.TemporaryError(str(error), delay=1) from error
    except KUBERNETES_ERRORS as error:
        raise kopf.TemporaryError(f"Kubernetes API: {describe(error)}", KUBE_RETRY) from error


def run(args: argparse.Namespace) -> int:
    """`farflow run`: the operator, until it is stopped."""
    register(args.resync_seconds, args.namespace, args.aws_recheck_seconds, args.autoscale_seconds)
    log_format = kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.PLAIN
    kopf.configure(log_format=log_format, verbose=False)
    kopf.run(
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness,
        standalone=args.peering is None,
        peering_name=args.peering,
        # kopf pauses every replica that sees a peer of equal priority: each one draws its
        # own, and the highest reconciles while the others wait.
        priority=secrets.randbelow(2**31 - 1) + 1 if args.peering else 0,
    )
    return 0


def register(
    resync_seconds: float,
    namespaces: list[str] | None,
    aws_recheck_seconds: float,
    autoscale_seconds: float,
) -> None:
    """Registers the handlers with kopf: the resync loop runs every ``resync_seconds`` (give
    or take), AWS is checked at most every ``aws_recheck_seconds`` while nothing changes,
    the autoscaler looks at the queues every ``autoscale_seconds``."""
    handlers = Handlers(
        resync_seconds, namespaces or None, AwsRecheck(aws_recheck_seconds), autoscale_seconds
    )
    kopf.on.startup()(configure)

    @kopf.on.probe(id="peering")
    def peering_state(settings: kopf.OperatorSettings, **_: Any) -> str:
        """In the liveness answer: whether this replica reconciles (active) or waits."""
        name = "" if settings.peering.standalone else settings.peering.name
        # A namespaced operator has a KopfPeering in each of its namespaces, all alike.
        where = namespaces[0] if namespaces else None
        return peering.state(handlers.kube, name, settings.peering.priority, where)

    for kind, resource in OWNED.items():
        kopf.index(*resource, id=index_id(*kind), labels={MANAGED_BY_LABEL: FIELD_MANAGER})(_index)
    kopf.on.startup()(handlers.apply_crd)
    kopf.on.startup()(handlers.use_executor)
    kopf.on.resume(*RESOURCE)(handlers.on_change)
    kopf.on.create(*RESOURCE)(handlers.on_change)
    kopf.on.update(*RESOURCE, field="spec")(handlers.on_change)
    kopf.daemon(*RESOURCE, cancellation_timeout=60)(handlers.resync)
    kopf.daemon(*RESOURCE, id="autoscale", cancellation_timeout=30)(handlers.autoscale)
    # Every cluster has something to clean up (see farflow.cleanup): kopf adds its finalizer,
    # FINALIZER (see configure), before any handler runs.
    kopf.on.delete(*RESOURCE)(handlers.on_delete)


def _index(body: kopf.Body, **_: Any) -> dict[tuple[str, str], Any]:
    return indexed(body)


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
    # Change handlers run in kopf's thread pool; many clusters need more than its default.
    settings.execution.max_workers = 20
    for noisy in ("kubernetes", "botocore", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
