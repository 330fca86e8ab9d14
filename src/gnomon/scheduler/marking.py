"""Marking task instances or a whole run ``success`` or ``failed`` by hand (the API, the UI).

A mark is a guarded transition like any other: an instance that changed state between the
read and the write is left as it is. A running try of a marked instance is killed: a remote
worker's next heartbeat is refused (``store.execution.beat``), and a scheduler kills its
executor's tries whose instance is no longer running at its next heartbeat
(``store.tries.given_up``). The try's end is recorded on the try; the instance keeps its
mark.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.orm import Session

from gnomon.scheduler import clearing
from gnomon.scheduler.exceptions import SchedulerError
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import FINISHED, RunState, TaskState
from gnomon.store import runs, task_instances, transitions

#: The states a mark may set.
MARKABLE = (TaskState.SUCCESS, TaskState.FAILED)


def plan(
    session: Session,
    cache: VersionCache,
    run: runs.Run,
    state: TaskState,
    *,
    task_ids: Collection[str] | None,
    downstream: bool = False,
) -> list[task_instances.TI]:
    """The instances of ``run`` that ``mark`` would set to ``state``, as they are now.

    ``task_ids`` None: the whole run, i.e. every unfinished instance. Otherwise every
    instance of those tasks (and of their downstream tasks with ``downstream``) not already
    in ``state``.
    """
    if state not in MARKABLE:
        raise SchedulerError(f"cannot mark {state.value!r}: only success or failed")
    every = task_instances.of_run(session, run.id)
    if task_ids is None:
        return [ti for ti in every if ti.state not in FINISHED]
    dag = cache.get(session, run.dag_version_id).dag
    clearing.check_task_ids(dag, run.dag_id, task_ids)
    chosen = clearing.downstream_of(dag, task_ids) if downstream else set(task_ids)
    return [ti for ti in every if ti.task_id in chosen and ti.state != state]


def mark(
    session: Session,
    cache: VersionCache,
    run: runs.Run,
    state: TaskState,
    *,
    task_ids: Collection[str] | None,
    downstream: bool = False,
    now: datetime,
) -> list[task_instances.TI]:
    """Set the instances ``plan`` chooses to ``state``; those that changed, as they were.

    The whole run (``task_ids`` None) also moves the run to the same state. Marking some
    instances of a finished run requeues it, so the scheduler decides its state again.
    """
    chosen = plan(session, cache, run, state, task_ids=task_ids, downstream=downstream)
    by_id = {ti.id: ti for ti in chosen}
    won: list[int] = []
    # One statement per prior state, each guarded by the state it was read in.
    for prior in sorted({ti.state for ti in chosen}):
        ids = [ti.id for ti in chosen if ti.state == prior]
        won += transitions.set_ti_states(
            session, ids, expected=prior, new=state, end_date=now, retry_at=None
        )
    new_run_state = RunState(state.value)
    if task_ids is None:
        others = [s for s in RunState if s != new_run_state]
        transitions.set_run_state(session, run.id, expected=others, new=new_run_state, end_date=now)
    elif won:
        clearing.requeue_if_finished(session, run, now)
    return [by_id[i] for i in sorted(won)]
