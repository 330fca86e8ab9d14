"""The run-state rule: what state a DAG run is in, given its task instances."""

from __future__ import annotations

from collections.abc import Iterable

from gnomon.semantics.states import FAILED_STATES, FINISHED, RunState, TaskState


def run_state(leaf_states: Iterable[TaskState], all_finished: bool) -> RunState:
    """A run is ``failed`` once every task instance is finished and any leaf failed (or
    was upstream_failed); ``success`` once every leaf is success or skipped; else ``running``.

    Waiting for every instance (not only leaves) to finish keeps a run open while teardown-like
    tasks with ``all_done`` still have to run.
    """
    leaves = list(leaf_states)
    if not all_finished or not all(state in FINISHED for state in leaves):
        return RunState.RUNNING
    if any(state in FAILED_STATES for state in leaves):
        return RunState.FAILED
    return RunState.SUCCESS
