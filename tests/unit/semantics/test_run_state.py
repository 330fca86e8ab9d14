"""The run-state rule: a run's state from its leaves and whether everything finished."""

from __future__ import annotations

from gnomon.semantics.run_state import run_state
from gnomon.semantics.states import RunState, TaskState

SUCCESS = TaskState.SUCCESS
FAILED = TaskState.FAILED
SKIPPED = TaskState.SKIPPED
UPSTREAM_FAILED = TaskState.UPSTREAM_FAILED
REMOVED = TaskState.REMOVED
RUNNING = TaskState.RUNNING


def test_a_run_succeeds_when_every_leaf_succeeded() -> None:
    assert run_state([SUCCESS, SUCCESS], all_finished=True) is RunState.SUCCESS


def test_skipped_leaves_count_as_success() -> None:
    assert run_state([SUCCESS, SKIPPED], all_finished=True) is RunState.SUCCESS


def test_a_run_whose_leaves_were_all_skipped_succeeds() -> None:
    assert run_state([SKIPPED, SKIPPED], all_finished=True) is RunState.SUCCESS


def test_a_run_fails_when_a_leaf_failed() -> None:
    assert run_state([SUCCESS, FAILED], all_finished=True) is RunState.FAILED


def test_a_run_fails_when_a_leaf_is_upstream_failed() -> None:
    assert run_state([SUCCESS, UPSTREAM_FAILED], all_finished=True) is RunState.FAILED


def test_a_removed_leaf_does_not_fail_a_run() -> None:
    assert run_state([SUCCESS, REMOVED], all_finished=True) is RunState.SUCCESS


def test_a_run_keeps_running_while_a_leaf_has_not_finished() -> None:
    assert run_state([SUCCESS, RUNNING], all_finished=False) is RunState.RUNNING


def test_a_failed_leaf_does_not_fail_a_run_while_a_leaf_still_runs() -> None:
    assert run_state([FAILED, RUNNING], all_finished=False) is RunState.RUNNING


def test_a_run_keeps_running_while_any_instance_is_unfinished_even_if_leaves_are_done() -> None:
    # A leaf is upstream_failed as soon as one upstream fails, while another may still run.
    assert run_state([FAILED], all_finished=False) is RunState.RUNNING


def test_a_run_keeps_running_while_a_leaf_is_unfinished_even_if_told_all_finished() -> None:
    assert run_state([SUCCESS, TaskState.UP_FOR_RETRY], all_finished=True) is RunState.RUNNING
