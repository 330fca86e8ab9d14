"""Clearing task instances so that they run again (``gnomon tasks clear``, backfill reruns)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gnomon.scheduler.exceptions import SchedulerError
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.planning import TIKey
from gnomon.semantics.states import (
    FAILED_STATES,
    FINISHED,
    FINISHED_RUN,
    HOLDS_SLOT,
    RunState,
    TaskState,
)
from gnomon.serialization.model import SerializedDag
from gnomon.store import models, runs, task_instances, transitions, xcoms

#: States a cleared instance may leave: anything but queued or running (those are in flight).
CLEARABLE = (*FINISHED, TaskState.UP_FOR_RETRY, TaskState.SCHEDULED, TaskState.NONE)


def downstream_of(dag: SerializedDag, task_ids: Collection[str]) -> set[str]:
    found = set(task_ids)
    stack = list(task_ids)
    while stack:
        for child in dag.tasks[stack.pop()].downstream:
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


@dataclass(frozen=True, slots=True)
class ClearPlan:
    """What a clear would change, read before any write."""

    #: Instances reset one by one to ``none``.
    instances: list[task_instances.TI]
    #: Mapped tasks reset to one unexpanded placeholder (their upstream is cleared too).
    collapse: frozenset[str]
    #: Every instance the clear changes, as it is now (the collapsed tasks' too).
    affected: list[task_instances.TI]


def plan(
    session: Session,
    cache: VersionCache,
    run: runs.Run,
    *,
    task_ids: Collection[str] = (),
    downstream: bool = False,
    only_failed: bool = False,
) -> ClearPlan:
    """The instances of ``run`` that ``clear`` with these options would reset (a dry run)."""
    dag = cache.get(session, run.dag_version_id).dag
    check_task_ids(dag, run.dag_id, task_ids)
    chosen = set(task_ids) or set(dag.tasks)
    if downstream:
        chosen = downstream_of(dag, chosen)
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
    collapse = frozenset(
        tid
        for tid in cleared_tasks - in_flight
        if dag.tasks[tid].is_mapped
        and any(arg.literal is None for arg in dag.tasks[tid].expand)
        and set(dag.tasks[tid].upstream) & cleared_tasks
    )
    chosen_ids = {ti.id for ti in instances}
    affected = [
        ti
        for ti in every
        if (ti.task_id in collapse and ti.state in CLEARABLE)
        or (ti.task_id not in collapse and ti.id in chosen_ids)
    ]
    return ClearPlan(instances, collapse, affected)


def check_task_ids(dag: SerializedDag, dag_id: str, task_ids: Collection[str]) -> None:
    """SchedulerError naming the ids in ``task_ids`` that are not tasks of ``dag``."""
    unknown = sorted(set(task_ids) - set(dag.tasks))
    if unknown:
        raise SchedulerError(
            f"DAG {dag_id!r} has no task {', '.join(repr(t) for t in unknown)} "
            f"(tasks: {', '.join(dag.order)})"
        )


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
    chosen = plan(
        session, cache, run, task_ids=task_ids, downstream=downstream, only_failed=only_failed
    )
    return apply(session, cache, run, chosen, now=now)


def apply(
    session: Session, cache: VersionCache, run: runs.Run, chosen: ClearPlan, *, now: datetime
) -> list[TIKey]:
    """Carry out ``chosen`` (from ``plan`` in the same transaction); the cleared keys."""
    dag = cache.get(session, run.dag_version_id).dag
    cleared: list[TIKey] = []
    for tid in sorted(chosen.collapse):
        task_instances.collapse(session, run.id, run.dag_id, run.run_id, dag, tid, CLEARABLE)
        xcoms.clear(session, run.id, tid, None)
        cleared.append(TIKey(tid))
    for ti in chosen.instances:
        if ti.task_id in chosen.collapse:
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
    if cleared:
        requeue_if_finished(session, run, now)
    return sorted(cleared)


def requeue_if_finished(session: Session, run: runs.Run, now: datetime) -> None:
    """Put a finished run whose instances changed by hand back to ``queued``, so that the
    scheduler decides its state again."""
    if run.state in FINISHED_RUN:
        transitions.set_run_state(
            session,
            run.id,
            expected=tuple(FINISHED_RUN),
            new=RunState.QUEUED,
            end_date=None,
            queued_at=now,
        )
