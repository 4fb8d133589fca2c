"""The pools, variables and connections of spec.airflow, kept as declared in Airflow through
its REST API (the official client), as the cluster's admin user.

Each pass reads back every object declared or created, creates what is missing, writes again what
drifted or what the spec (or a connection's secret) changed since the last write, and
deletes what left the spec, but only objects FarFlow created (status.airflowObjects). An
object that existed before it was declared is kept in step and never deleted. Airflow shows
passwords and sensitive values as "***": drift in those is invisible, so they are written
only when the declared digest changes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pydantic
from airflow_client import client as airflow

from farflow.airflow_api import ERRORS, TIMEOUT, Endpoint, described, signed_in
from farflow.api.resolve import ResolvedCluster
from farflow.api.spec import AirflowSpec, ConnectionSpec
from farflow.api.status import AirflowObjectsStatus, Condition
from farflow.aws.facts import may_read
from farflow.aws.secrets import read_secret
from farflow.aws.session import AwsError
from farflow.kube.client import Kube
from farflow.manifests.config_map import content_hash
from farflow.manifests.secrets import decoded

REDACTED = "***"
ACTIONS = {"post": "creating", "patch": "updating", "delete": "deleting"}
CONNECTION_FIELDS = ("conn_type", "host", "login", "password", "port", "schema", "extra")
Body = dict[str, Any]


@dataclass(frozen=True)
class Declared:
    """Per kind, each declared object's request body; connections whose secret could not
    be read are named in ``unreadable`` and left as they are in Airflow."""

    bodies: dict[str, dict[str, Body]] = field(repr=False)
    unreadable: dict[str, str]


@dataclass(frozen=True)
class Changes:
    create: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kind:
    """How one kind of object is read, written and deleted."""

    name: str  # pools, variables, connections
    api: type
    singular: str  # in the client's method names: get_pool, post_pool, ...
    body: Callable[[Body], Any]  # the request body of a create, and of an update
    patch_body: Callable[[Body], Any] | None = None  # of an update, where it differs


def _pool_patch(body: Body) -> Any:
    """A pool's update names it `pool`, where its create says `name`."""
    return airflow.PoolPatchBody.from_dict(
        {("pool" if key == "name" else key): value for key, value in body.items()}
    )


KINDS = (
    Kind("pools", airflow.PoolApi, "pool", airflow.PoolBody.from_dict, _pool_patch),
    Kind("variables", airflow.VariableApi, "variable", airflow.VariableBody.from_dict),
    Kind("connections", airflow.ConnectionApi, "connection", airflow.ConnectionBody.from_dict),
)


def declares_any(spec: AirflowSpec) -> bool:
    return bool(spec.pools or spec.variables or spec.connections)


def declared(spec: AirflowSpec, read: Callable[[ConnectionSpec], str]) -> Declared:
    """The request bodies of what ``spec`` declares; ``read`` returns a connection's secret
    (Airflow's JSON form) or raises ValueError saying why it cannot."""
    connections: dict[str, Body] = {}
    unreadable: dict[str, str] = {}
    for connection in spec.connections:
        try:
            connections[connection.name] = _connection_body(connection, read(connection))
        except ValueError as error:
            unreadable[connection.name] = str(error)
    pools = {
        p.name: {"name": p.name, "slots": p.slots, "description": p.description,
                 "include_deferred": p.include_deferred}
        for p in spec.pools
    }  # fmt: skip
    variables = {
        v.name: {"key": v.name, "value": v.value, "description": v.description}
        for v in spec.variables
    }
    return Declared(
        {"pools": pools, "variables": variables, "connections": connections}, unreadable
    )


def _connection_body(connection: ConnectionSpec, secret: str) -> Body:
    source = _source(connection)
    try:
        fields = json.loads(secret)
    except json.JSONDecodeError:
        fields = None
    if not isinstance(fields, dict) or not isinstance(fields.get("conn_type"), str):
        raise ValueError(
            f"{source} is not a connection in Airflow's JSON form: an object with conn_type "
            f"and any of {', '.join(CONNECTION_FIELDS[1:])}"
        )
    unknown = sorted(set(fields) - set(CONNECTION_FIELDS) - {"description"})
    if unknown:
        raise ValueError(f"{source} has fields Airflow connections lack: {', '.join(unknown)}")
    extra = fields.get("extra")
    body = {name: fields.get(name) for name in CONNECTION_FIELDS}
    body["extra"] = json.dumps(extra) if isinstance(extra, dict) else extra
    description = connection.description or fields.get("description")
    body |= {"connection_id": connection.name, "description": description}
    try:
        airflow.ConnectionBody.from_dict(body)
    except pydantic.ValidationError as error:
        wrong = error.errors(include_input=False)  # the input may be a password
        raise ValueError(
            f"{source}: " + "; ".join(f"{d['loc'][0]} {d['msg']}" for d in wrong)
        ) from None
    return body


def _source(connection: ConnectionSpec) -> str:
    ref = connection.secret_key_ref
    if ref is not None:
        return f"key {ref.key} of Secret {ref.name}"
    return f"Secrets Manager secret {connection.secrets_manager_arn}"


def secret_value(kube: Kube, name: str, namespace: str, key: str) -> str | None:
    """One key of a live Secret, decoded alone (another key may hold bytes); None when the
    Secret or the key is missing."""
    data = (kube.get("v1", "Secret", name, namespace) or {}).get("data") or {}
    return decoded({key: data[key]})[key] if key in data else None


def secret_reader(cluster: ResolvedCluster, kube: Kube | None) -> Callable[[ConnectionSpec], str]:
    """Reads a declared connection's secret: a key of a Secret in the cluster's namespace, or
    a Secrets Manager secret named for that namespace (the operator reads it for the cluster,
    so another namespace's are out of reach). Without Kubernetes (`farflow dev`), only the
    latter."""

    def read(connection: ConnectionSpec) -> str:
        ref, arn = connection.secret_key_ref, connection.secrets_manager_arn
        if ref is not None and kube is None:
            raise ValueError(
                f"Secret {ref.name} is Kubernetes', which farflow dev has not: give the "
                "connection a secretsManagerArn of the embedded AWS to use it here"
            )
        if ref is not None and kube is not None:
            value = secret_value(kube, ref.name, cluster.namespace, ref.key)
            if value is None:
                raise ValueError(f"Secret {ref.name} has no key {ref.key}")
            return value
        assert arn is not None  # the spec holds exactly one source
        prefix = cluster.aws_names.secret_prefix
        if not may_read(arn, prefix):
            raise ValueError(f"secretsManagerArn must name a secret {prefix}...")
        try:
            found = read_secret(arn.split(":")[3], arn)
        except AwsError as error:
            raise ValueError(str(error)) from error
        if found is None:
            raise ValueError(f"Secrets Manager has no secret {arn}")
        return found.value

    return read


def changes(
    wanted: Mapping[str, Body], live: Mapping[str, Body], created: set[str], rewrite: bool
) -> Changes:
    """What to do about one kind: create the missing, update the drifted (all of them when
    the declared digest changed), delete what FarFlow created and the spec no longer has."""
    present = [name for name in sorted(wanted) if name in live]
    return Changes(
        create=tuple(name for name in sorted(wanted) if name not in live),
        update=tuple(n for n in present if rewrite or drifted(wanted[n], live[n])),
        delete=tuple(name for name in sorted(created - set(wanted)) if name in live),
    )


def drifted(wanted: Body, live: Body) -> bool:
    """Whether a field Airflow shows differs; a redacted one cannot tell."""
    return any(
        _shown(live.get(key)) and _normal(live.get(key)) != _normal(value)
        for key, value in wanted.items()
    )


def _normal(value: Any) -> Any:
    """Empty is none, and JSON text (a connection's extra) its content."""
    if isinstance(value, str) and value.startswith("{"):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value or None


def _shown(value: Any) -> bool:
    return not (isinstance(value, str) and REDACTED in value)


def sync(
    endpoint: Endpoint, wanted: Declared, previous: AirflowObjectsStatus | None
) -> tuple[AirflowObjectsStatus | None, Condition]:
    """One pass over every kind: what FarFlow created since, and whether all is as declared."""
    try:
        api = signed_in(endpoint)
    except ERRORS as error:
        message = f"cannot sign in to Airflow at {endpoint.url}: {described(error)}"
        return previous, _synced(False, "AirflowUnreachable", message)
    previous = previous or AirflowObjectsStatus()
    failures = [f"connection {name}: {why}" for name, why in wanted.unreadable.items()]
    created, written = {}, {}
    for kind in KINDS:
        bodies = wanted.bodies[kind.name]
        digest = content_hash(bodies)
        last = previous.written.get(kind.name, "")
        mine, failed = _sync_kind(
            api, kind, bodies, set(getattr(previous, kind.name)),
            rewrite=digest != last,
            untouched=set(wanted.unreadable) if kind.name == "connections" else set(),
        )  # fmt: skip
        created[kind.name], written[kind.name] = mine, last if failed else digest
        failures += failed
    status = AirflowObjectsStatus(**created, written=written)
    if failures:
        return status, _synced(False, "SyncFailed", "; ".join(failures))
    counts = ", ".join(f"{len(wanted.bodies[kind.name])} {kind.name}" for kind in KINDS)
    return status, _synced(True, "Synced", f"{counts} as declared")


def _synced(holds: bool, reason: str, message: str) -> Condition:
    return Condition.of("AirflowObjectsSynced", holds, reason, message)


def _sync_kind(
    api: airflow.ApiClient,
    kind: Kind,
    bodies: dict[str, Body],
    mine: set[str],
    *,
    rewrite: bool,
    untouched: set[str],
) -> tuple[list[str], list[str]]:
    """The names of this kind FarFlow created after the pass, and what failed; the
    ``untouched`` (declared, but their secret unreadable) are neither written nor deleted."""
    methods = kind.api(api)
    failures: list[str] = []

    def done(action: str, name: str, *arguments: Any) -> bool:
        call = partial(getattr(methods, f"{action}_{kind.singular}"), *arguments)
        return _done(call, f"{ACTIONS[action]} {kind.singular} {name}", failures)

    try:
        live = _live(methods, kind, sorted(set(bodies) | mine))
    except ERRORS as error:
        return sorted(mine), [f"{kind.name}: {described(error)}"]
    todo = changes(bodies, live, mine - untouched, rewrite)
    kept = {name for name in mine if name in live}  # one deleted by hand is no longer ours
    kept |= {name for name in todo.create if done("post", name, kind.body(bodies[name]))}
    for name in todo.update:
        done("patch", name, name, (kind.patch_body or kind.body)(bodies[name]))
    kept -= {name for name in todo.delete if done("delete", name, name)}
    return sorted(kept), failures


def _live(methods: Any, kind: Kind, names: list[str]) -> dict[str, Body]:
    """What Airflow has of ``names``: one GET each, so a pass costs what the spec declares,
    however many objects Airflow holds."""
    found = {}
    for name in names:
        try:
            found[name] = getattr(methods, f"get_{kind.singular}")(
                name, _request_timeout=TIMEOUT
            ).to_dict()
        except airflow.ApiException as error:
            if error.status != 404:
                raise
    return found


def _done(call: Callable[..., Any], what: str, failures: list[str]) -> bool:
    try:
        call(_request_timeout=TIMEOUT)
    except ERRORS as error:
        failures.append(f"{what}: {described(error)}")
        return False
    return True
