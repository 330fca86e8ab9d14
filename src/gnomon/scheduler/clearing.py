"""Clearing task instances so that they run again (``gnomon tasks clear``, backfill reruns)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.orm import Session

from gnomon.scheduler.exceptions import SchedulerError
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.planning import TIKey
from gnomon.semantics.states import FAILED_STATES, FINISHED, HOLDS_SLOT, RunState, TaskState
from gnomon.serialization.model import SerializedDag
from gnomon.store import models, runs, task_instances, transitions, xcoms

#: States a cleared instance may leave: anything but queued or running (those are in flight).
CLEARABLE = (*FINISHED, TaskState.UP_FOR_RETRY, TaskState.SCHEDULED, TaskState.NONE)


def _downstream(dag: SerializedDag, task_ids: Collection[str]) -> set[str]:
    found = set(task_ids)
    stack = list(task_ids)
    while stack:
        for child in dag.tasks[stack.pop()].downstream:
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def clear(
    session: Session,
    cache: VersionCache,
    run: runs.Run,
    *,
    task_ids: Collection[str] = (),
    downstream: bool = False,
    only_failed: bool = False,
    now: datetime,
) -> list[TIKey]:
    """Reset the chosen instances of ``run`` to ``none`` (they get all their retries again),
    forget their XComs, and requeue the run if it had finished. Returns the cleared keys.

    Instances that are queued or running are left alone (they are in flight). A mapped task
    whose upstream is cleared too goes back to one unexpanded placeholder, since its input
    may change.
    """
    dag = cache.get(session, run.dag_version_id).dag
    unknown = sorted(set(task_ids) - set(dag.tasks))
    if unknown:
        raise SchedulerError(
            f"DAG {run.dag_id!r} has no task {', '.join(repr(t) for t in unknown)} "
            f"(tasks: {', '.join(dag.order)})"
        )
    chosen = set(task_ids) or set(dag.tasks)
    if downstream:
        chosen = _downstream(dag, chosen)
    every = task_instances.of_run(session, run.id)
    instances = [
        ti
        for ti in every
        if ti.task_id in chosen
        and ti.state in CLEARABLE
        and (not only_failed or ti.state in FAILED_STATES)
    ]
    cleared_tasks = {ti.task_id for ti in instances}
    in_flight = {ti.task_id for ti in every if ti.state in HOLDS_SLOT}
    collapse = {
        tid
        for tid in cleared_tasks - in_flight
        if dag.tasks[tid].is_mapped
        and any(arg.literal is None for arg in dag.tasks[tid].expand)
        and set(dag.tasks[tid].upstream) & cleared_tasks
    }
    cleared: list[TIKey] = []
    for tid in sorted(collapse):
        task_instances.collapse(session, run.id, run.dag_id, run.run_id, dag, tid, CLEARABLE)
        xcoms.clear(session, run.id, tid, None)
        cleared.append(TIKey(tid))
    for ti in instances:
        if ti.task_id in collapse:
            continue
        retries = dag.tasks[ti.task_id].retries
        won = transitions.set_ti_state(
            session,
            ti.id,
            expected=CLEARABLE,
            new=TaskState.NONE,
            max_tries=models.TaskInstance.try_number + retries + 1,
            retry_at=None,
            end_date=None,
            note=None,
        )
        if won:
            xcoms.clear(session, run.id, ti.task_id, ti.map_index)
            cleared.append(ti.key)
    if cleared and run.state in (RunState.SUCCESS, RunState.FAILED):
        transitions.set_run_state(
            session,
            run.id,
            expected=(RunState.SUCCESS, RunState.FAILED),
            new=RunState.QUEUED,
            end_date=None,
            queued_at=now,
        )
    return sorted(cleared)
