"""Branching: which tasks a branch or a short-circuit skips."""

from __future__ import annotations

import pytest

from gnomon.semantics.branching import BranchError, branch_skips, short_circuit_skips

#: branch -> (left -> left_2, right, join); left -> join.
DOWNSTREAM: dict[str, tuple[str, ...]] = {
    "branch": ("left", "right", "join"),
    "left": ("left_2", "join"),
    "left_2": (),
    "right": (),
    "join": (),
}

#: branch -> (group.first -> group.second, other)
WITH_GROUP: dict[str, tuple[str, ...]] = {
    "branch": ("group.first", "other"),
    "group.first": ("group.second",),
    "group.second": (),
    "other": (),
}
GROUP_ROOTS = {"group": ("group.first",), "elsewhere": ("other_root",)}


def test_a_branch_skips_the_direct_downstream_tasks_it_did_not_choose() -> None:
    assert branch_skips(DOWNSTREAM, {}, "branch", ["right"]) == {"left", "join"}


def test_a_branch_skips_only_direct_downstream_tasks() -> None:
    # Further tasks are left to their trigger rules.
    assert "left_2" not in branch_skips(DOWNSTREAM, {}, "branch", ["right"])


def test_a_branch_choosing_nothing_skips_every_direct_downstream_task() -> None:
    assert branch_skips(DOWNSTREAM, {}, "branch", []) == {"left", "right", "join"}


def test_a_branch_does_not_skip_a_task_that_is_also_downstream_of_a_chosen_task() -> None:
    # Airflow: "join" is downstream of the chosen "left", so it is not skipped.
    assert branch_skips(DOWNSTREAM, {}, "branch", ["left"]) == {"right"}


def test_a_branch_choosing_several_tasks_skips_the_rest() -> None:
    assert branch_skips(DOWNSTREAM, {}, "branch", ["left", "join"]) == {"right"}


def test_a_branch_choosing_a_task_group_follows_the_group_roots() -> None:
    assert branch_skips(WITH_GROUP, GROUP_ROOTS, "branch", ["group"]) == {"other"}


def test_a_branch_choosing_a_task_not_directly_downstream_raises_branch_error() -> None:
    with pytest.raises(BranchError):
        branch_skips(DOWNSTREAM, {}, "branch", ["left_2"])


def test_a_branch_choosing_a_group_whose_roots_are_not_downstream_raises_branch_error() -> None:
    with pytest.raises(BranchError):
        branch_skips(WITH_GROUP, GROUP_ROOTS, "branch", ["elsewhere"])


def test_a_branch_error_names_the_branch_the_choice_and_the_valid_options() -> None:
    with pytest.raises(BranchError) as raised:
        branch_skips(DOWNSTREAM, {}, "branch", ["nope"])
    message = str(raised.value)
    assert "'branch'" in message
    assert "'nope'" in message
    assert "join, left, right" in message


def test_a_short_circuit_skips_every_task_downstream_when_ignoring_trigger_rules() -> None:
    skipped = short_circuit_skips(DOWNSTREAM, "branch", all_downstream=True)
    assert skipped == {"left", "left_2", "right", "join"}


def test_a_short_circuit_skips_only_direct_downstream_when_respecting_trigger_rules() -> None:
    skipped = short_circuit_skips(DOWNSTREAM, "branch", all_downstream=False)
    assert skipped == {"left", "right", "join"}


def test_a_short_circuit_of_a_leaf_skips_nothing() -> None:
    assert short_circuit_skips(DOWNSTREAM, "right", all_downstream=True) == set()
