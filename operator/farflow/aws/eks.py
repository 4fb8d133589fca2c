"""The EKS Fargate profile that schedules a cluster's pods.

Profiles are immutable, so a changed configuration gets a new profile whose name carries a hash
of that configuration. Each profile also selects pods by that hash (farflow.objects.
PROFILE_LABEL): EKS picks at random among the profiles a pod matches, and deleting a profile
deletes every pod scheduled through it, so the pods move by changing their label once the new
profile is ACTIVE, and an old profile (tagged ours) is deleted only when no pod is on it any
more. EKS runs one profile creation or deletion at a time per cluster: a busy cluster means
"later".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from farflow.aws.session import TAG_KEY, client, error_code, failed, tagged_owner
from farflow.objects import PROFILE_LABEL

_failed = partial(failed, "eks")

ACTIVE = "ACTIVE"
PENDING = "PENDING"  # not created yet: the EKS cluster is busy with another profile
_NAME_LIMIT = 100
_BUSY = "ResourceInUseException"
_MISSING = "ResourceNotFoundException"
FARFLOW_PREFIX = "farflow-"  # the default names, and what docs/iam-policy.json grants
_DIGEST = 8

Selector = tuple[str, Mapping[str, str]]  # namespace, pod labels


@dataclass(frozen=True)
class FargateProfileState:
    """The wanted profile, our earlier profiles still waiting to be deleted, and the profile
    the pods are to run through meanwhile."""

    name: str
    arn: str | None  # None until EKS accepted the creation
    status: str  # PENDING, CREATING, ACTIVE, CREATE_FAILED, DELETING, DELETE_FAILED
    retiring: tuple[str, ...]
    pods_label: str  # the PROFILE_LABEL value of the pods: the newest ACTIVE profile's
    serving: bool  # whether that profile is ACTIVE, so pods with it get scheduled

    @property
    def ready(self) -> bool:
        return self.status == ACTIVE


def profile_label(name: str) -> str:
    """The PROFILE_LABEL value of a profile FarFlow named: its configuration's digest."""
    return name[-_DIGEST:]


def configured_name(
    profile_name: str,
    owner: str,
    pod_execution_role_arn: str,
    subnets: Sequence[str],
    selectors: Sequence[Selector],
) -> str:
    """<profile_name>-<hash of owner and configuration>: the same wanted profile always gets
    the same name, and any change (in any order-insensitive way) a new one."""
    config = [
        owner,
        pod_execution_role_arn,
        sorted(subnets),
        sorted((namespace, sorted(labels.items())) for namespace, labels in selectors),
    ]
    digest = hashlib.sha256(json.dumps(config).encode()).hexdigest()[:_DIGEST]
    return f"{_base(profile_name)[: _NAME_LIMIT - len(digest) - 1]}-{digest}"


def _base(profile_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", profile_name)


def ensure_fargate_profile(
    region: str,
    cluster_name: str,
    profile_name: str,
    *,
    pod_execution_role_arn: str,
    subnets: Sequence[str],
    selectors: Sequence[Selector],
    owner: str,
    in_use: Collection[str] = (),
) -> FargateProfileState:
    """Creates the profile for this configuration if missing (subnets default to the EKS
    cluster's when empty); once it is ACTIVE, deletes one earlier profile of ours per call
    that no pod is on: ``in_use`` names the profiles (or their PROFILE_LABEL values) the
    cluster's pods are on."""
    eks = client("eks", region)
    name = configured_name(profile_name, owner, pod_execution_role_arn, subnets, selectors)
    labelled = [(ns, {**labels, PROFILE_LABEL: profile_label(name)}) for ns, labels in selectors]
    try:
        eks.describe_cluster(name=cluster_name)  # a clear error for a wrong cluster name
        ours = _our_profiles(eks, cluster_name, owner, name[:-_DIGEST])
        wanted = ours.pop(name, None)
        if wanted is None:
            request = _request(name, pod_execution_role_arn, subnets, labelled, owner)
            wanted = _create(eks, cluster_name, request)
        elif wanted["status"] == ACTIVE:
            unused = [p for n, p in ours.items() if not {n, profile_label(n)} & set(in_use)]
            _delete_one(eks, cluster_name, unused)
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, f"{cluster_name}/{name}") from error
    return profile_state(name, wanted, ours)


def profile_state(
    name: str, wanted: dict[str, Any], older: dict[str, dict[str, Any]]
) -> FargateProfileState:
    """The state of the wanted profile ``name`` as EKS describes it (empty while not created)
    beside our ``older`` ones: the pods stay on the newest ACTIVE profile until the wanted one
    is ACTIVE too."""
    status = wanted.get("status", PENDING)
    active = [p for p in older.values() if p["status"] == ACTIVE]
    serving = name
    if status != ACTIVE and active:
        serving = max(active, key=lambda p: p.get("createdAt", 0))["fargateProfileName"]
    return FargateProfileState(
        name,
        wanted.get("fargateProfileArn"),
        status,
        tuple(sorted(older)),
        pods_label=profile_label(serving),
        serving=status == ACTIVE or bool(active),
    )


def delete_fargate_profiles(
    region: str, cluster_name: str, owner: str, *, name_prefix: str = FARFLOW_PREFIX
) -> bool:
    """Deletes our profiles of the EKS cluster (named name_prefix...), one per call; True
    when none remain."""
    eks = client("eks", region)
    try:
        if not _cluster_exists(eks, cluster_name):
            return True
        ours = list(_our_profiles(eks, cluster_name, owner, name_prefix).values())
        _delete_one(eks, cluster_name, ours)
    except (ClientError, BotoCoreError) as error:
        raise _failed(error, cluster_name) from error
    return not ours


def _cluster_exists(eks: Any, cluster_name: str) -> bool:
    try:
        eks.describe_cluster(name=cluster_name)
    except ClientError as error:
        if error_code(error) == _MISSING:
            return False
        raise
    return True


def _our_profiles(
    eks: Any, cluster_name: str, owner: str, name_prefix: str
) -> dict[str, dict[str, Any]]:
    """Name -> description of every profile of the EKS cluster tagged with our owner. Only
    names with the prefix are described: others are not FarFlow's to read (docs/iam-policy.json
    grants profiles named farflow-...), and one describe per foreign profile costs calls."""
    ours = {}
    for page in eks.get_paginator("list_fargate_profiles").paginate(clusterName=cluster_name):
        for name in (n for n in page["fargateProfileNames"] if n.startswith(name_prefix)):
            profile = _describe(eks, cluster_name, name)
            if profile and tagged_owner(profile.get("tags", {})) == owner:
                ours[name] = profile
    return ours


def _describe(eks: Any, cluster_name: str, name: str) -> dict[str, Any] | None:
    """The profile, or None when it was deleted since it was listed."""
    try:
        found = eks.describe_fargate_profile(clusterName=cluster_name, fargateProfileName=name)
    except ClientError as error:
        if error_code(error) == _MISSING:
            return None
        raise
    profile: dict[str, Any] = found["fargateProfile"]
    return profile


def _request(
    name: str,
    pod_execution_role_arn: str,
    subnets: Sequence[str],
    selectors: Sequence[Selector],
    owner: str,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "fargateProfileName": name,
        "podExecutionRoleArn": pod_execution_role_arn,
        "selectors": [
            {"namespace": namespace, "labels": dict(labels)} if labels else {"namespace": namespace}
            for namespace, labels in selectors
        ],
        "tags": {TAG_KEY: owner},
    }
    if subnets:
        request["subnets"] = list(subnets)
    return request


def _create(eks: Any, cluster_name: str, request: dict[str, Any]) -> dict[str, Any]:
    """The new profile; empty when the EKS cluster is busy and it must be tried again later."""
    try:
        created = eks.create_fargate_profile(clusterName=cluster_name, **request)
    except ClientError as error:
        if error_code(error) == _BUSY:
            return {}
        raise
    profile: dict[str, Any] = created["fargateProfile"]
    return profile


def _delete_one(eks: Any, cluster_name: str, profiles: list[dict[str, Any]]) -> None:
    """Starts deleting the first profile unless one is being deleted (EKS allows one)."""
    if not profiles or any(profile["status"] == "DELETING" for profile in profiles):
        return
    try:
        eks.delete_fargate_profile(
            clusterName=cluster_name, fargateProfileName=profiles[0]["fargateProfileName"]
        )
    except ClientError as error:
        if error_code(error) != _BUSY:
            raise
