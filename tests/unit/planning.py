"""Helpers for plan and builder tests: a cluster from an example, with made-up AWS facts."""

from __future__ import annotations

from typing import Any

from farflow.api import parse, resolve
from farflow.api.resolve import ResolvedCluster
from farflow.manifests import manifests
from farflow.objects import Manifest, Owner
from farflow.plan import AwsFacts, Plan, plan
from farflow.plan.config import SHARED_KEYS
from tests.cases import MINIMAL, load, merged

REGION = "eu-west-1"
LOG_GROUP_ARN = "arn:aws:logs:eu-west-1:123456789012:log-group:/farflow/default/minimal"
OWNER = Owner("farflow.io/v1alpha1", "AirflowCluster", "minimal", "uid-1234")
SECRET_SENTINEL = "s3cr3t-value-that-must-not-leak"


def cluster(patch: dict[str, Any] | None = None) -> ResolvedCluster:
    return resolve(parse(merged(load(MINIMAL), patch or {})))


def facts(queues: tuple[str, ...] = ("default",)) -> AwsFacts:
    return AwsFacts(
        region=REGION,
        queue_urls={q: f"https://sqs.{REGION}.amazonaws.com/123456789012/q-{q}" for q in queues},
        log_group_arn=LOG_GROUP_ARN,
    )


def planned(patch: dict[str, Any] | None = None) -> Plan:
    made = cluster(patch)
    return plan(made, facts(tuple(made.spec.workers.all_queues())))


def built(patch: dict[str, Any] | None = None) -> list[Manifest]:
    made = planned(patch)
    mirrored = {made.names.secrets: dict.fromkeys(SHARED_KEYS, SECRET_SENTINEL)}
    if made.generate_admin_password:
        mirrored[made.admin_password.name] = {"password": SECRET_SENTINEL}
    return manifests(made, OWNER, mirrored, secrets_hash="hash-of-the-secrets")


def of_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in objects if m["kind"] == kind]
