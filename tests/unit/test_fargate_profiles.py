"""Which Fargate profile a cluster's pods are told to run through while one replaces another:
EKS describes each profile; the pods move only once the new one is ACTIVE."""

from __future__ import annotations

import datetime

import pytest

from farflow.aws.eks import profile_label, profile_state

pytestmark = pytest.mark.unit
OLD, OLDER, NEW = "farflow-a-1111aaaa", "farflow-a-0000aaaa", "farflow-a-2222bbbb"


def described(name: str, status: str, day: int) -> dict[str, object]:
    created = datetime.datetime(2026, 1, day, tzinfo=datetime.UTC)
    return {"fargateProfileName": name, "status": status, "createdAt": created}


def test_pods_stay_on_the_newest_active_profile_while_the_new_one_is_created() -> None:
    older = {OLDER: described(OLDER, "ACTIVE", 1), OLD: described(OLD, "ACTIVE", 2)}
    state = profile_state(NEW, described(NEW, "CREATING", 3), older)
    assert (state.pods_label, state.serving, state.ready) == (profile_label(OLD), True, False)
    assert state.retiring == (OLDER, OLD)


def test_pods_move_once_the_new_profile_is_active() -> None:
    state = profile_state(NEW, described(NEW, "ACTIVE", 3), {OLD: described(OLD, "ACTIVE", 2)})
    assert (state.pods_label, state.serving) == (profile_label(NEW), True)


def test_without_an_active_profile_nothing_is_scheduled_yet() -> None:
    state = profile_state(NEW, {}, {OLD: described(OLD, "DELETING", 2)})
    assert (state.status, state.pods_label, state.serving) == ("PENDING", "2222bbbb", False)
