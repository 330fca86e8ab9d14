"""Jobs: the long-running component processes (scheduler, DAG processor, ...) and heartbeats.

A component inserts its job when it starts, moves ``heartbeat_at`` forward while it runs and
records how it ended. Health checks, and a scheduler deciding whether another one is still
there, look for running jobs whose heartbeat is recent (``alive``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from gnomon.store import exceptions, models
from gnomon.store.models import JobState, JobType


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    job_type: JobType
    hostname: str
    pid: int
    state: JobState
    started_at: datetime
    heartbeat_at: datetime
    ended_at: datetime | None
    #: Its tries go on when it dies (a scheduler whose executor's workers are remote).
    tries_outlive: bool

    @classmethod
    def from_row(cls, row: models.Job) -> Job:
        return cls(
            row.id,
            row.job_type,
            row.hostname,
            row.pid,
            row.state,
            row.started_at,
            row.heartbeat_at,
            row.ended_at,
            row.tries_outlive,
        )


def start(
    session: Session,
    job_type: JobType,
    hostname: str,
    pid: int,
    now: datetime,
    *,
    tries_outlive: bool = False,
) -> int:
    """Record a job of ``job_type`` running as ``pid`` on ``hostname`` from ``now``; its id.

    ``tries_outlive``: the tries this job runs go on if it dies (see ``Job.tries_outlive``)."""
    stmt = (
        insert(models.Job)
        .values(
            job_type=job_type,
            hostname=hostname,
            pid=pid,
            state=JobState.RUNNING,
            started_at=now,
            heartbeat_at=now,
            tries_outlive=tries_outlive,
        )
        .returning(models.Job.id)
    )
    return int(session.execute(stmt).scalar_one())


def heartbeat(session: Session, job_id: int, now: datetime) -> bool:
    """Move the running job's heartbeat to ``now``; False if the job is no longer running.

    Race it settles: a job silent for too long (a stopped VM, a long pause) was declared
    dead, marked ``failed``, by a health check or by another scheduler taking over; its late
    heartbeat must not bring it back to life. It learns from False that it lost.
    """
    stmt = (
        update(models.Job)
        .where(models.Job.id == job_id, models.Job.state == JobState.RUNNING)
        .values(heartbeat_at=now)
        .returning(models.Job.id)
    )
    return session.execute(stmt).first() is not None


def end(session: Session, job_id: int, state: JobState, now: datetime) -> bool:
    """Record that the running job ended in ``state`` (success or failed) at ``now``.

    False if it had already ended. Race it settles: a job stopping cleanly while a health
    check declares it dead; whichever writes second changes nothing, so an end is recorded
    once.
    """
    if state is JobState.RUNNING:
        raise exceptions.InvalidValue(
            f"a job ends in {JobState.SUCCESS.value} or {JobState.FAILED.value}, "
            f"not {state.value} (job {job_id})"
        )
    stmt = (
        update(models.Job)
        .where(models.Job.id == job_id, models.Job.state == JobState.RUNNING)
        .values(state=state, ended_at=now)
        .returning(models.Job.id)
    )
    return session.execute(stmt).first() is not None


def alive(session: Session, job_type: JobType, since: datetime) -> list[Job]:
    """Running jobs of ``job_type`` with a heartbeat at or after ``since``, latest first."""
    rows = session.scalars(
        select(models.Job)
        .where(
            models.Job.job_type == job_type,
            models.Job.state == JobState.RUNNING,
            models.Job.heartbeat_at >= since,
        )
        .order_by(models.Job.heartbeat_at.desc(), models.Job.id.desc())
    )
    return [Job.from_row(row) for row in rows]


def silent(session: Session, job_types: Collection[JobType], cutoff: datetime) -> list[Job]:
    """Running jobs of ``job_types`` whose last heartbeat is older than ``cutoff``: presumed
    dead (killed, its machine gone), to be ended by whoever notices."""
    rows = session.scalars(
        select(models.Job)
        .where(
            models.Job.job_type.in_(list(job_types)),
            models.Job.state == JobState.RUNNING,
            models.Job.heartbeat_at < cutoff,
        )
        .order_by(models.Job.id)
    )
    return [Job.from_row(row) for row in rows]


def get(session: Session, job_id: int) -> Job | None:
    """The job ``job_id``; None if there is no such job."""
    row = session.scalar(
        select(models.Job).where(models.Job.id == job_id).execution_options(populate_existing=True)
    )
    return None if row is None else Job.from_row(row)


def latest_heartbeat(session: Session, job_types: Collection[JobType]) -> datetime | None:
    """The newest heartbeat of a running job of one of ``job_types`` (None: none running)."""
    return session.scalar(
        select(func.max(models.Job.heartbeat_at)).where(
            models.Job.job_type.in_(job_types), models.Job.state == JobState.RUNNING
        )
    )
