"""Task tries: one row per attempt (host, pid, job, start, end, heartbeat, exit reason, log)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from gnomon.semantics.states import HOLDS_SLOT, TaskState
from gnomon.store import models, sql, task_instances
from gnomon.store.models import JobState


@dataclass(frozen=True, slots=True)
class Try:
    id: int
    task_instance_id: int
    try_number: int
    state: TaskState
    hostname: str | None
    pid: int | None
    worker: str | None
    job_id: int | None
    queue: str | None
    start_date: datetime | None
    end_date: datetime | None
    heartbeat_at: datetime | None
    exit_reason: str | None
    error: str | None
    log_location: str | None

    @classmethod
    def from_row(cls, row: models.TaskTry) -> Try:
        return cls(
            row.id,
            row.task_instance_id,
            row.try_number,
            row.state,
            row.hostname,
            row.pid,
            row.worker,
            row.job_id,
            row.queue,
            row.start_date,
            row.end_date,
            row.heartbeat_at,
            row.exit_reason,
            row.error,
            row.log_location,
        )

    @property
    def shown_log_location(self) -> str | None:
        """The log's location as shown to people: without a query string, which holds the
        signature of a worker's log server URL (whoever has it may read that log)."""
        return None if self.log_location is None else self.log_location.split("?", 1)[0]

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        duration = None
        if self.start_date and self.end_date:
            duration = (self.end_date - self.start_date).total_seconds()
        return {
            "try_number": self.try_number,
            "state": self.state.value,
            "start_date": iso(self.start_date),
            "end_date": iso(self.end_date),
            "duration": duration,
            "exit_reason": self.exit_reason,
            "error": self.error,
            "hostname": self.hostname,
            "pid": self.pid,
            "worker": self.worker,
            "queue": self.queue,
            "log": self.shown_log_location,
        }


@dataclass(frozen=True, slots=True)
class NewTry:
    """A try to insert (``queued``), with ``add_many``."""

    ti_id: int
    try_number: int
    job_id: int | None
    queue: str
    log_location: str


def add_many(session: Session, new: Sequence[NewTry], now: datetime) -> list[int]:
    """Insert ``new`` tries, queued, in one statement per chunk; their ids, in order.

    Core rows, not ORM objects: queueing a pass's tries is on the scheduler's hot path, and
    nothing in the pass reads them back as objects."""
    table = cast(Table, models.TaskTry.__table__)
    ids: list[int] = []
    for chunk in sql.chunks(new):
        rows = [
            {
                "task_instance_id": t.ti_id,
                "try_number": t.try_number,
                "state": TaskState.QUEUED,
                "job_id": t.job_id,
                "queue": t.queue,
                "log_location": t.log_location,
                "heartbeat_at": now,
            }
            for t in chunk
        ]
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids.extend(session.execute(stmt, rows).scalars())
    return ids


def get(session: Session, try_id: int) -> Try | None:
    row = session.get(models.TaskTry, try_id)
    return None if row is None else Try.from_row(row)


_WITH_INSTANCE_COLUMNS = (
    sql.columns_for(models.TaskTry, Try),
    sql.columns_for(models.TaskInstance, task_instances.TI),
)
_TRIES, _INSTANCES = models.TaskTry.__table__, models.TaskInstance.__table__
#: Core (table columns, no ORM attributes, which would route it through the ORM's execution
#: path), built once: this read starts every end of a try (the scheduler's and the API's).
_WITH_INSTANCE = (
    select(*_WITH_INSTANCE_COLUMNS[0], *_WITH_INSTANCE_COLUMNS[1])
    .join_from(_TRIES, _INSTANCES, _INSTANCES.c.id == _TRIES.c.task_instance_id)
    .where(_TRIES.c.id == bindparam("try_id"))
)


def with_instance(session: Session, try_id: int) -> tuple[Try, task_instances.TI] | None:
    """The try and its task instance, in one query; None if the try does not exist."""
    row = session.execute(_WITH_INSTANCE, {"try_id": try_id}).first()
    if row is None:
        return None
    attempt, instance = sql.slices(row, _WITH_INSTANCE_COLUMNS)
    return Try(*attempt), task_instances.TI(*instance)


def of_instances(session: Session, ti_ids: Collection[int]) -> dict[int, list[Try]]:
    """Each instance's tries, by try number."""
    found: dict[int, list[Try]] = {}
    for chunk in sql.chunks(sorted(ti_ids)):
        rows = session.scalars(
            select(models.TaskTry)
            .where(models.TaskTry.task_instance_id.in_(chunk))
            .order_by(models.TaskTry.task_instance_id, models.TaskTry.try_number)
        )
        for row in rows:
            found.setdefault(row.task_instance_id, []).append(Try.from_row(row))
    return found


def of_instance(session: Session, ti_id: int, try_number: int) -> Try | None:
    row = session.scalar(
        select(models.TaskTry).where(
            models.TaskTry.task_instance_id == ti_id, models.TaskTry.try_number == try_number
        )
    )
    return None if row is None else Try.from_row(row)


def heartbeat(session: Session, try_ids: Collection[int], now: datetime) -> None:
    """Mark the running tries ``try_ids`` alive at ``now``."""
    for chunk in sql.chunks(sorted(try_ids)):
        session.execute(
            update(models.TaskTry)
            .where(models.TaskTry.id.in_(chunk), models.TaskTry.state == TaskState.RUNNING)
            .values(heartbeat_at=now)
        )


def given_up(session: Session, try_ids: Collection[int]) -> list[int]:
    """Of the tries ``try_ids`` (running, as their executor sees them), those to stop: ended
    in the database (failed as a zombie, say) or whose instance is no longer queued or
    running (an operator marked it). A try whose start is not recorded yet is not one."""
    stopped: list[int] = []
    instance = models.TaskInstance
    for chunk in sql.chunks(sorted(try_ids)):
        stopped += session.scalars(
            select(models.TaskTry.id)
            .join(instance, instance.id == models.TaskTry.task_instance_id)
            .where(
                models.TaskTry.id.in_(chunk),
                or_(
                    models.TaskTry.state.not_in(HOLDS_SLOT),
                    instance.state.not_in([TaskState.QUEUED, TaskState.RUNNING]),
                ),
            )
        )
    return stopped


def silent_since(session: Session, cutoff: datetime) -> list[Try]:
    """Running tries whose last heartbeat is older than ``cutoff`` (zombies), by id (the
    order every scheduler locks them in)."""
    rows = session.scalars(
        select(models.TaskTry)
        .where(models.TaskTry.state == TaskState.RUNNING, models.TaskTry.heartbeat_at < cutoff)
        .order_by(models.TaskTry.id)
    )
    return [Try.from_row(r) for r in rows]


def orphaned(session: Session) -> list[Try]:
    """Queued or running tries whose scheduler job has ended (or is unknown), by id; except
    running tries of a job whose tries outlive it: those heartbeat on their own, and the
    zombie reaper judges them by that."""
    job = models.Job
    stmt = (
        select(models.TaskTry)
        .outerjoin(job, job.id == models.TaskTry.job_id)
        .where(
            models.TaskTry.state.in_(HOLDS_SLOT),
            or_(job.id.is_(None), job.state != JobState.RUNNING),
            or_(
                models.TaskTry.state == TaskState.QUEUED,
                job.id.is_(None),
                job.tries_outlive.is_(False),
            ),
        )
        .order_by(models.TaskTry.id)
    )
    return [Try.from_row(r) for r in session.scalars(stmt)]


def queued_before(session: Session, cutoff: datetime) -> list[Try]:
    """Tries still queued (sent to an executor, not started) whose instance was queued
    before ``cutoff``, by id."""
    ti = models.TaskInstance
    stmt = (
        select(models.TaskTry)
        .join(ti, ti.id == models.TaskTry.task_instance_id)
        .where(
            models.TaskTry.state == TaskState.QUEUED,
            ti.try_number == models.TaskTry.try_number,
            ti.queued_at < cutoff,
        )
        .order_by(models.TaskTry.id)
    )
    return [Try.from_row(r) for r in session.scalars(stmt)]


def running_with_run(session: Session) -> list[tuple[Try, str, int]]:
    """Running tries with their task id and their run's DAG version id."""
    rows = session.execute(
        select(models.TaskTry, models.TaskInstance.task_id, models.DagRun.dag_version_id)
        .join(models.TaskInstance, models.TaskInstance.id == models.TaskTry.task_instance_id)
        .join(models.DagRun, models.DagRun.id == models.TaskInstance.dag_run_id)
        .where(models.TaskTry.state == TaskState.RUNNING)
    ).all()
    return [(Try.from_row(row), task_id, version_id) for row, task_id, version_id in rows]
