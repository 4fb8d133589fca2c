"""The EKS Fargate profile (moto): one per configuration, tagged ours, replaced (never edited)
when the configuration changes, the old one deleted only after the new one is ACTIVE."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from farflow.api import parse, resolve
from farflow.aws.eks import (
    Selector,
    configured_name,
    delete_fargate_profiles,
    ensure_fargate_profile,
    profile_label,
)
from farflow.aws.facts import gather
from farflow.aws.session import TAG_KEY, AwsError
from farflow.objects import PROFILE_LABEL
from farflow.plan import plan
from tests.aws.moto_env import OWNER, unique
from tests.cases import MINIMAL, load, merged
from tests.fixtures.aws import REGION
from tests.fixtures.aws_proxy import AwsProxy, Fault
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.aws
ROLE = "arn:aws:iam::123456789012:role/farflow/pods"
LABEL = {"farflow.io/fargate": "true"}
SELECTORS: list[Selector] = [("airflow", LABEL)]


@pytest.fixture
def cluster(aws: AwsProxy) -> str:
    """A new, ACTIVE EKS cluster."""
    name = unique("eks")
    boto3.client("eks").create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig={})
    return name


def ensure(
    cluster: str,
    selectors: list[Selector],
    subnets: tuple[str, ...] = (),
    in_use: tuple[str, ...] = (),
) -> Any:
    return ensure_fargate_profile(
        REGION,
        cluster,
        "farflow-airflow-demo",
        pod_execution_role_arn=ROLE,
        subnets=subnets,
        selectors=selectors,
        owner=OWNER,
        in_use=in_use,
    )


def selecting(state: Any, *namespaces: str) -> list[dict[str, Any]]:
    """The selectors of the profile of ``state``: the namespaces, LABEL and its own label."""
    labels = {**LABEL, PROFILE_LABEL: profile_label(state.name)}
    return [{"namespace": namespace, "labels": labels} for namespace in namespaces]


def profiles(cluster: str) -> dict[str, dict[str, Any]]:
    eks = boto3.client("eks")
    names = eks.list_fargate_profiles(clusterName=cluster)["fargateProfileNames"]
    return {
        name: eks.describe_fargate_profile(clusterName=cluster, fargateProfileName=name)[
            "fargateProfile"
        ]
        for name in names
    }


def test_created_once_with_its_configuration_and_tag(cluster: str) -> None:
    states = [ensure(cluster, SELECTORS) for _ in range(3)]
    assert len({state.name for state in states}) == 1
    [(name, found)] = profiles(cluster).items()
    assert name == states[0].name
    assert name.startswith("farflow-airflow-demo-")
    assert states[-1].ready
    assert states[-1].arn == found["fargateProfileArn"]
    assert states[-1].retiring == ()
    assert found["tags"] == {TAG_KEY: OWNER}
    assert found["selectors"] == selecting(states[-1], "airflow")
    assert states[-1].pods_label == profile_label(name)
    assert found["podExecutionRoleArn"] == ROLE
    assert found.get("subnets", []) == []  # none given: EKS uses the cluster's


def test_subnets_are_passed_when_given(cluster: str) -> None:
    state = ensure(cluster, SELECTORS, ("subnet-0123456789abcdef0",))
    assert profiles(cluster)[state.name]["subnets"] == ["subnet-0123456789abcdef0"]


def test_changed_selectors_replace_the_profile_after_the_new_one_is_active(
    cluster: str,
) -> None:
    old = ensure(cluster, SELECTORS)
    wider: list[Selector] = [*SELECTORS, ("tasks", LABEL)]
    new = ensure(cluster, wider)
    assert new.name != old.name
    assert new.retiring == (old.name,)
    assert set(profiles(cluster)) == {old.name, new.name}  # old kept: new not yet seen ACTIVE
    ensure(cluster, wider)  # the new one is ACTIVE now: the old one goes
    assert set(profiles(cluster)) == {new.name}
    assert ensure(cluster, wider).retiring == ()
    assert profiles(cluster)[new.name]["selectors"] == selecting(new, "airflow", "tasks")


def test_names_are_deterministic_and_order_insensitive() -> None:
    first = configured_name("p", OWNER, ROLE, ["subnet-b", "subnet-a"], [("a", {}), ("b", LABEL)])
    again = configured_name("p", OWNER, ROLE, ["subnet-a", "subnet-b"], [("b", LABEL), ("a", {})])
    assert first == again
    assert configured_name("p", "other/owner", ROLE, [], [("a", {})]) != configured_name(
        "p", OWNER, ROLE, [], [("a", {})]
    )
    long = configured_name("x" * 100 + ".y", OWNER, ROLE, [], [("a", {})])
    assert len(long) == 100
    assert "." not in long


def test_delete_removes_ours_one_at_a_time_and_leaves_others(cluster: str) -> None:
    boto3.client("eks").create_fargate_profile(
        clusterName=cluster,
        fargateProfileName="someone-elses",
        podExecutionRoleArn=ROLE,
        selectors=[{"namespace": "other"}],
    )
    ensure(cluster, SELECTORS)
    ensure(cluster, [("tasks", {})])  # a second profile of ours, the first not retired yet
    assert len(profiles(cluster)) == 3
    rounds = [delete_fargate_profiles(REGION, cluster, OWNER) for _ in range(3)]
    assert rounds == [False, False, True]
    assert set(profiles(cluster)) == {"someone-elses"}


def test_delete_on_a_missing_cluster_is_done(aws: AwsProxy) -> None:
    assert delete_fargate_profiles(REGION, unique("gone"), OWNER) is True


def test_a_missing_cluster_names_the_action(aws: AwsProxy) -> None:
    with pytest.raises(AwsError) as missing:
        ensure("no-such-cluster", SELECTORS)
    assert missing.value.reason == "ResourceNotFoundException"
    assert str(missing.value).startswith("eks:DescribeCluster no-such-cluster/farflow-airflow-")


def test_denied_creation_names_the_action_and_creates_nothing(aws: AwsProxy, cluster: str) -> None:
    aws.faults["eks:CreateFargateProfile"] = Fault("denied")
    with pytest.raises(AwsError, match=r"^eks:CreateFargateProfile .* AccessDeniedException"):
        ensure(cluster, SELECTORS)
    assert profiles(cluster) == {}


def test_denied_deletion_is_reported(aws: AwsProxy, cluster: str) -> None:
    ensure(cluster, SELECTORS)
    aws.faults["eks:DeleteFargateProfile"] = Fault("denied")
    with pytest.raises(AwsError, match=f"^eks:DeleteFargateProfile {cluster} failed"):
        delete_fargate_profiles(REGION, cluster, OWNER)
    aws.faults.clear()
    assert delete_fargate_profiles(REGION, cluster, OWNER) is False
    assert delete_fargate_profiles(REGION, cluster, OWNER) is True


def test_foreign_profiles_are_not_described(aws: AwsProxy, cluster: str) -> None:
    """Other teams' profiles are not FarFlow's to read (docs/iam-policy.json grants only
    profiles named farflow-...), and describing each one made every reconcile O(profiles)."""
    eks = boto3.client("eks")
    for index in range(10):
        eks.create_fargate_profile(
            clusterName=cluster,
            fargateProfileName=f"team-{index}",
            podExecutionRoleArn=ROLE,
            selectors=[{"namespace": f"team-{index}"}],
        )
    ensure(cluster, SELECTORS)
    called = len(aws.actions)
    ensure(cluster, SELECTORS)
    assert aws.actions[called:].count("eks:DescribeFargateProfile") == 1  # ours only


def test_a_replaced_profile_stays_while_pods_are_on_it(cluster: str) -> None:
    """Deleting a profile deletes its pods: the old one goes only once none is on it, and the
    pods are told to move (their label) only once the new one is ACTIVE."""
    old = ensure(cluster, SELECTORS, ("subnet-0123456789abcdef0",))
    moved = ("subnet-0fedcba9876543210",)
    new = ensure(cluster, SELECTORS, moved, in_use=(old.name,))
    assert (new.retiring, new.ready) == ((old.name,), True)  # moto's are ACTIVE at once
    assert new.pods_label == profile_label(new.name)
    # Still in use, by the EKS annotation (a profile's name) or by the label of pods not
    # scheduled yet: kept.
    for in_use in ((old.name,), (profile_label(old.name),)):
        assert ensure(cluster, SELECTORS, moved, in_use=in_use).retiring == (old.name,)
        assert set(profiles(cluster)) == {old.name, new.name}
    ensure(cluster, SELECTORS, moved, in_use=(new.name,))  # every pod moved
    assert set(profiles(cluster)) == {new.name}


def test_two_clusters_in_one_namespace_select_their_own_pods(aws: AwsProxy, cluster: str) -> None:
    """Profiles used to select the namespace and farflow.io/fargate only, so two clusters in
    one namespace shared them: deleting one cluster deleted the other's pods."""
    gathered = {}
    for name in ("first", "second"):
        patch = {
            "metadata": {"name": name, "namespace": "shared"},
            "spec": {"fargate": {"clusterName": cluster, "profile": FARGATE}},
        }
        resolved = resolve(parse(merged(load(MINIMAL), patch)))
        gathered[name] = (resolved, wait_gathered(resolved))
    found = profiles(cluster)
    assert len(found) == 2
    selected = [frozenset(p["selectors"][0]["labels"].items()) for p in found.values()]
    assert selected[0] != selected[1]
    for resolved, facts in gathered.values():
        labels = plan(resolved, facts).pod_labels
        matching = [
            p for p in found.values() if p["selectors"][0]["labels"].items() <= labels.items()
        ]
        assert len(matching) == 1  # each cluster's pods match its own profile only
        assert labels["farflow.io/owner"] == f"shared.{resolved.name}"


FARGATE = {"create": True, "podExecutionRoleArn": ROLE}


def wait_gathered(resolved: Any) -> Any:
    passes: list[Any] = []

    def complete() -> bool:
        passes.append(gather(resolved).facts)
        return passes[-1] is not None

    wait_until(complete, 60, "the profile ACTIVE and the facts complete")
    return passes[-1]
