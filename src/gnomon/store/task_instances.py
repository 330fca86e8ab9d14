"""Task instances (task x map index x run): creating, reading, and the scheduler's counts."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, delete, func, insert, select, type_coerce
from sqlalchemy.orm import Session

from gnomon.semantics.planning import TIKey
from gnomon.semantics.states import HOLDS_SLOT, TaskState
from gnomon.serialization.model import SerializedDag
from gnomon.store import models, sql


@dataclass(frozen=True, slots=True)
class TI:
    id: int
    dag_run_id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: TaskState
    try_number: int
    max_tries: int
    pool: str
    pool_slots: int
    queue: str
    priority_weight: int
    retry_at: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    hostname: str | None
    pid: int | None
    note: str | None

    @property
    def key(self) -> TIKey:
        return TIKey(self.task_id, self.map_index)

    @classmethod
    def from_row(cls, row: models.TaskInstance) -> TI:
        return cls(
            row.id,
            row.dag_run_id,
            row.dag_id,
            row.run_id,
            row.task_id,
            row.map_index,
            row.state,
            row.try_number,
            row.max_tries,
            row.pool,
            row.pool_slots,
            row.queue,
            row.priority_weight,
            row.retry_at,
            row.queued_at,
            row.start_date,
            row.end_date,
            row.duration,
            row.hostname,
            row.pid,
            row.note,
        )


def insert_rows(
    session: Session,
    run_pk: int,
    dag_id: str,
    run_id: str,
    dag: SerializedDag,
    keys: Iterable[TIKey],
    *,
    state: TaskState = TaskState.NONE,
) -> None:
    rows: list[dict[str, Any]] = []
    for key in keys:
        task = dag.tasks[key.task_id]
        rows.append(
            {
                "dag_run_id": run_pk,
                "dag_id": dag_id,
                "run_id": run_id,
                "task_id": key.task_id,
                "map_index": key.map_index,
                "state": state,
                "try_number": 0,
                "max_tries": task.retries + 1,
                "pool": task.pool,
                "pool_slots": task.pool_slots,
                "queue": task.queue,
                "priority_weight": task.priority_weight,
            }
        )
    for chunk in sql.chunks(rows):
        session.execute(insert(models.TaskInstance), list(chunk))


def of_run(session: Session, run_pk: int) -> list[TI]:
    rows = session.scalars(
        select(models.TaskInstance)
        .where(models.TaskInstance.dag_run_id == run_pk)
        .order_by(models.TaskInstance.id)
    )
    return [TI.from_row(r) for r in rows]


def states_of_run(session: Session, run_pk: int) -> list[tuple[int, TIKey, TaskState]]:
    """Each instance of the run: its id, key and state (no ORM objects: the planner's read)."""
    table = models.TaskInstance.__table__
    rows = session.execute(
        select(table.c.id, table.c.task_id, table.c.map_index, table.c.state).where(
            table.c.dag_run_id == run_pk
        )
    ).all()
    return [(ti_id, TIKey(task_id, map_index), state) for ti_id, task_id, map_index, state in rows]


def get(session: Session, run_pk: int, task_id: str, map_index: int = -1) -> TI | None:
    row = session.scalar(
        select(models.TaskInstance).where(
            models.TaskInstance.dag_run_id == run_pk,
            models.TaskInstance.task_id == task_id,
            models.TaskInstance.map_index == map_index,
        )
    )
    return None if row is None else TI.from_row(row)


def state_counts(session: Session, run_pk: int) -> dict[TaskState, int]:
    rows = session.execute(
        select(models.TaskInstance.state, func.count())
        .where(models.TaskInstance.dag_run_id == run_pk)
        .group_by(models.TaskInstance.state)
    ).all()
    return {state: count for state, count in rows}


def expand(
    session: Session,
    run_pk: int,
    dag_id: str,
    run_id: str,
    dag: SerializedDag,
    task_id: str,
    n: int,
) -> bool:
    """Replace the unexpanded placeholder of ``task_id`` by ``n`` scheduled instances.

    Guarded like a transition: the placeholder is deleted only while it is still ``none``; if
    another scheduler expanded it first, nothing happens and False is returned.
    """
    deleted = session.execute(
        delete(models.TaskInstance)
        .where(
            models.TaskInstance.dag_run_id == run_pk,
            models.TaskInstance.task_id == task_id,
            models.TaskInstance.map_index == -1,
            models.TaskInstance.state == TaskState.NONE,
        )
        .returning(models.TaskInstance.id)
    ).first()
    if deleted is None:
        return False
    keys = [TIKey(task_id, i) for i in range(n)]
    insert_rows(session, run_pk, dag_id, run_id, dag, keys, state=TaskState.SCHEDULED)
    return True


def collapse(
    session: Session,
    run_pk: int,
    dag_id: str,
    run_id: str,
    dag: SerializedDag,
    task_id: str,
    expected: Collection[TaskState],
) -> None:
    """Replace a mapped task's instances by one unexpanded placeholder (``none``), to be
    expanded again; only instances in ``expected`` are removed (never one in flight)."""
    session.execute(
        delete(models.TaskInstance).where(
            models.TaskInstance.dag_run_id == run_pk,
            models.TaskInstance.task_id == task_id,
            models.TaskInstance.state.in_(list(expected)),
        )
    )
    insert_rows(session, run_pk, dag_id, run_id, dag, [TIKey(task_id)])


@dataclass(frozen=True, slots=True)
class Occupancy:
    """What queued and running instances hold, for the queueing limits."""

    #: Pool name -> slots held.
    pool_slots: dict[str, int]
    #: DAG id -> instances (for ``max_active_tasks``).
    per_dag: dict[str, int]
    #: DAG id -> its ``max_active_tasks``, for the DAGs in ``per_dag`` that still exist.
    dag_limits: dict[str, int]
    #: Instances queued and not started yet (a broker's backlog, with a remote executor).
    queued: int = 0


def occupancy(session: Session) -> Occupancy:
    """Slots per pool and instances per DAG held by queued and running instances, with those
    DAGs' ``max_active_tasks``, and how many are queued, in one query (run by every queueing
    pass)."""
    ti = models.TaskInstance
    rows = session.execute(
        select(
            ti.pool,
            ti.dag_id,
            ti.state,
            func.sum(ti.pool_slots),
            func.count(),
            models.Dag.max_active_tasks,
        )
        .outerjoin(models.Dag, models.Dag.dag_id == ti.dag_id)
        .where(ti.state.in_(HOLDS_SLOT))
        .group_by(ti.pool, ti.dag_id, ti.state, models.Dag.max_active_tasks)
    ).all()
    pool_slots: dict[str, int] = {}
    per_dag: dict[str, int] = {}
    dag_limits: dict[str, int] = {}
    queued = 0
    for pool, dag_id, state, slots, count, limit in rows:
        pool_slots[pool] = pool_slots.get(pool, 0) + int(slots)
        per_dag[dag_id] = per_dag.get(dag_id, 0) + int(count)
        if limit is not None:
            dag_limits[dag_id] = limit
        if state is TaskState.QUEUED:
            queued += int(count)
    return Occupancy(pool_slots, per_dag, dag_limits, queued)


def scheduled(
    session: Session,
    *,
    limit: int,
    skip_pools: Collection[str] = (),
    skip_dags: Collection[str] = (),
) -> list[TI]:
    """Scheduled instances of running runs, highest priority first, then oldest run first,
    but none in ``skip_pools`` or of ``skip_dags`` (not locked:
    ``transitions.queue_instances`` claims those chosen)."""
    ti = models.TaskInstance
    conditions = [ti.state == TaskState.SCHEDULED]
    if skip_pools:
        conditions.append(ti.pool.not_in(sorted(skip_pools)))
    if skip_dags:
        conditions.append(ti.dag_id.not_in(sorted(skip_dags)))
    stmt = (
        select(models.TaskInstance)
        .join(models.DagRun, models.DagRun.id == models.TaskInstance.dag_run_id)
        .where(*conditions)
        .order_by(
            models.TaskInstance.priority_weight.desc(),
            models.DagRun.logical_date.nulls_last(),
            models.TaskInstance.id,
        )
        .limit(limit)
    )
    return [TI.from_row(r) for r in session.scalars(stmt)]


def due_retries(session: Session, now: datetime) -> dict[int, int]:
    """``up_for_retry`` instances whose retry time has come: their run's pk, by id."""
    rows = session.execute(
        select(models.TaskInstance.id, models.TaskInstance.dag_run_id).where(
            models.TaskInstance.state == TaskState.UP_FOR_RETRY,
            models.TaskInstance.retry_at <= now,
        )
    ).all()
    return {ti_id: run_pk for ti_id, run_pk in rows}


def next_retry_at(session: Session) -> datetime | None:
    return session.scalar(
        select(func.min(models.TaskInstance.retry_at)).where(
            models.TaskInstance.state == TaskState.UP_FOR_RETRY
        )
    )


def by_ids(session: Session, ids: Collection[int]) -> list[TI]:
    found: list[TI] = []
    for chunk in sql.chunks(sorted(ids)):
        rows = session.scalars(select(models.TaskInstance).where(models.TaskInstance.id.in_(chunk)))
        found.extend(TI.from_row(r) for r in rows)
    return found


@dataclass(frozen=True, slots=True)
class StateGroup:
    """Unmapped instances of one run that share a state and a try number."""

    run_pk: int
    state: str
    try_number: int
    task_ids: list[str]


def grid_cells(
    session: Session, run_pks: Collection[int]
) -> tuple[list[StateGroup], list[tuple[int, str, str, int]]]:
    """The states of the runs' instances, for the grid: unmapped ones grouped by (run, state,
    try number) with their task ids, and mapped ones as (run pk, task id, state, try number).

    Grouping in SQL sends a few rows per run instead of one per task: for 100,000 instances,
    the database's aggregation is several times cheaper than building that many rows in
    Python. (Task ids cannot contain commas.)"""
    table = models.TaskInstance.__table__
    state = type_coerce(table.c.state, String)
    groups: list[StateGroup] = []
    mapped: list[tuple[int, str, str, int]] = []
    for chunk in sql.chunks(list(run_pks)):
        grouped = session.execute(
            select(
                table.c.dag_run_id,
                state,
                table.c.try_number,
                func.aggregate_strings(table.c.task_id, ","),
            )
            .where(table.c.dag_run_id.in_(chunk), table.c.map_index < 0)
            .group_by(table.c.dag_run_id, state, table.c.try_number)
        )
        groups.extend(
            StateGroup(run_pk, value, try_number, names.split(","))
            for run_pk, value, try_number, names in grouped
        )
        mapped.extend(
            (run_pk, task_id, value, try_number)
            for run_pk, task_id, value, try_number in session.execute(
                select(table.c.dag_run_id, table.c.task_id, state, table.c.try_number).where(
                    table.c.dag_run_id.in_(chunk), table.c.map_index >= 0
                )
            )
        )
    return groups, mapped
