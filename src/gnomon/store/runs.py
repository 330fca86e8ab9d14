"""DAG runs: creating one with its task instances, finding and listing them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gnomon.semantics import planning
from gnomon.semantics.states import RunState
from gnomon.serialization.model import SerializedDag
from gnomon.store import exceptions, locks, models, sql, task_instances

ACTIVE = (RunState.QUEUED, RunState.RUNNING)
#: DAGs per query of ``latest_of_dags`` (SQLite allows 500 terms in a compound SELECT).
_LATEST_CHUNK = 250


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    dag_id: str
    run_id: str
    dag_version_id: int
    run_type: models.RunType
    state: RunState
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime
    conf: dict[str, Any]
    params: dict[str, Any]
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None

    @classmethod
    def from_row(cls, row: models.DagRun) -> Run:
        return cls(
            row.id,
            row.dag_id,
            row.run_id,
            row.dag_version_id,
            row.run_type,
            row.state,
            row.logical_date,
            row.data_interval_start,
            row.data_interval_end,
            row.run_after,
            dict(row.conf),
            dict(row.params),
            row.queued_at,
            row.start_date,
            row.end_date,
        )

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "run_type": self.run_type.value,
            "state": self.state.value,
            "logical_date": iso(self.logical_date),
            "data_interval_start": iso(self.data_interval_start),
            "data_interval_end": iso(self.data_interval_end),
            "run_after": iso(self.run_after),
            "conf": self.conf,
            "queued_at": iso(self.queued_at),
            "start_date": iso(self.start_date),
            "end_date": iso(self.end_date),
            "dag_version_id": self.dag_version_id,
        }


class RunExists(exceptions.StoreError):
    """A run with this run id, or of this logical date, exists already."""


@dataclass(frozen=True, slots=True)
class NewRun:
    """What a run is created from (its version's serialized DAG comes separately)."""

    dag_id: str
    run_id: str
    dag_version_id: int
    run_type: models.RunType
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime
    conf: Mapping[str, Any]
    params: Mapping[str, Any]


def create(session: Session, new: NewRun, dag: SerializedDag, *, now: datetime) -> Run:
    """Insert a queued run and its initial task instances; RunExists if its id is taken (or,
    for a run with a logical date, that date already has a run of the DAG)."""
    if get(session, new.dag_id, new.run_id) is not None:
        raise RunExists(f"DAG {new.dag_id!r} already has a run with run id {new.run_id!r}")
    if new.logical_date is not None:
        clash = session.scalar(
            select(models.DagRun.run_id).where(
                models.DagRun.dag_id == new.dag_id, models.DagRun.logical_date == new.logical_date
            )
        )
        if clash is not None:
            raise RunExists(
                f"DAG {new.dag_id!r} already has a run for logical date "
                f"{new.logical_date.isoformat()}: {clash!r}"
            )
    row = models.DagRun(
        dag_id=new.dag_id,
        run_id=new.run_id,
        dag_version_id=new.dag_version_id,
        run_type=new.run_type,
        state=RunState.QUEUED,
        logical_date=new.logical_date,
        data_interval_start=new.data_interval_start,
        data_interval_end=new.data_interval_end,
        run_after=new.run_after,
        conf=dict(new.conf),
        params=dict(new.params),
        queued_at=now,
    )
    session.add(row)
    session.flush()
    keys = planning.initial_instances(dag)
    task_instances.insert_rows(session, row.id, new.dag_id, new.run_id, dag, keys)
    return Run.from_row(row)


def get(session: Session, dag_id: str, run_id: str) -> Run | None:
    row = session.scalar(
        select(models.DagRun).where(models.DagRun.dag_id == dag_id, models.DagRun.run_id == run_id)
    )
    return None if row is None else Run.from_row(row)


def get_by_pk(session: Session, pk: int) -> Run | None:
    row = session.get(models.DagRun, pk)
    return None if row is None else Run.from_row(row)


def claim(session: Session, pks: Collection[int]) -> tuple[list[Run], set[int]]:
    """Lock the runs ``pks`` for this transaction, passing over those another transaction
    holds (Postgres; on SQLite all are claimed). The runs claimed, by id (read after the lock,
    so current), and the pks of runs that exist but another transaction holds.

    Race it settles: two schedulers planning the same run at once, each from states the other
    is changing; the planner holds the run until it commits.
    """
    claimed: list[Run] = []
    for chunk in sql.chunks(sorted(set(pks))):
        stmt = locks.skip_locked(
            session, select(models.DagRun).where(models.DagRun.id.in_(chunk))
        ).order_by(models.DagRun.id)
        rows = session.scalars(stmt.execution_options(populate_existing=True))
        claimed.extend(Run.from_row(r) for r in rows)
    missing = set(pks) - {run.id for run in claimed}
    held: set[int] = set()
    if missing and locks.contended(session):
        for chunk in sql.chunks(sorted(missing)):
            held.update(
                session.scalars(select(models.DagRun.id).where(models.DagRun.id.in_(chunk)))
            )
    return claimed, held


def lock(session: Session, pk: int) -> None:
    """Wait for the run's row lock and hold it until this transaction ends (Postgres; SQLite
    has one writer at a time). For changes to several of a run's undecided instances outside
    planning (a branch's skips), so that they never interleave with a planner's."""
    if locks.contended(session):
        stmt = select(models.DagRun.id).where(models.DagRun.id == pk)
        session.execute(stmt.with_for_update(key_share=True))


def of_dag(
    session: Session,
    dag_id: str,
    *,
    states: Collection[RunState] | None = None,
    limit: int | None = None,
) -> list[Run]:
    """The DAG's runs, newest first (by logical date, then creation)."""
    stmt = select(models.DagRun).where(models.DagRun.dag_id == dag_id)
    if states:
        stmt = stmt.where(models.DagRun.state.in_(list(states)))
    stmt = stmt.order_by(
        models.DagRun.logical_date.desc().nulls_last(), models.DagRun.id.desc()
    ).limit(limit)
    return [Run.from_row(r) for r in session.scalars(stmt)]


def states_of(session: Session, dag_id: str, run_ids: Collection[str]) -> dict[str, RunState]:
    """The state of each of the DAG's runs ``run_ids`` that exists, by run id."""
    rows = session.execute(
        select(models.DagRun.run_id, models.DagRun.state).where(
            models.DagRun.dag_id == dag_id, models.DagRun.run_id.in_(list(run_ids))
        )
    ).all()
    return {run_id: state for run_id, state in rows}


def in_states(session: Session, states: Collection[RunState]) -> list[Run]:
    """Runs in ``states``, oldest first (logical date, then creation)."""
    stmt = (
        select(models.DagRun)
        .where(models.DagRun.state.in_(list(states)))
        .order_by(models.DagRun.logical_date.nulls_last(), models.DagRun.id)
    )
    return [Run.from_row(r) for r in session.scalars(stmt)]


def counts_per_dag(session: Session, states: Collection[RunState] = ACTIVE) -> dict[str, int]:
    """Runs in ``states`` per DAG (queued and running by default, for ``max_active_runs``)."""
    rows = session.execute(
        select(models.DagRun.dag_id, func.count())
        .where(models.DagRun.state.in_(list(states)))
        .group_by(models.DagRun.dag_id)
    ).all()
    return {dag_id: count for dag_id, count in rows}


def previous(session: Session, run: Run) -> Run | None:
    """The DAG's run with the latest logical date before ``run``'s (for depends_on_past)."""
    if run.logical_date is None:
        return None
    row = session.scalar(
        select(models.DagRun)
        .where(
            models.DagRun.dag_id == run.dag_id,
            models.DagRun.logical_date < run.logical_date,
        )
        .order_by(models.DagRun.logical_date.desc())
        .limit(1)
    )
    return None if row is None else Run.from_row(row)


def latest_of_dags(
    session: Session, dag_ids: Collection[str], per_dag: int
) -> dict[str, list[Run]]:
    """The newest ``per_dag`` runs of each DAG (by ``run_after``), newest first: per chunk of
    DAGs, one query of index range scans (one per DAG, however long its history)."""
    found: dict[str, list[Run]] = {dag_id: [] for dag_id in dag_ids}
    ids = sorted(found)
    for start in range(0, len(ids), _LATEST_CHUNK):
        chunk = ids[start : start + _LATEST_CHUNK]
        # Plain SQL text: building the same UNION with SQLAlchemy's constructs costs more
        # than running it, for a page of 1,000 DAGs.
        parts = " UNION ALL ".join(
            f"SELECT id FROM (SELECT id FROM dag_runs WHERE dag_id = :d{i} "
            "ORDER BY run_after DESC, id DESC LIMIT :per_dag) AS latest_{i}".replace("{i}", str(i))
            for i in range(len(chunk))
        )
        params: dict[str, Any] = {f"d{i}": dag_id for i, dag_id in enumerate(chunk)}
        params["per_dag"] = per_dag
        wanted = [row_id for (row_id,) in session.execute(text(parts), params)]
        if not wanted:
            continue
        rows = session.scalars(
            select(models.DagRun)
            .where(models.DagRun.id.in_(wanted))
            .order_by(models.DagRun.run_after.desc(), models.DagRun.id.desc())
        )
        for row in rows:
            found[row.dag_id].append(Run.from_row(row))
    return found


def page(
    session: Session,
    *,
    dag_ids: Collection[str] | None,
    states: Collection[RunState] | None,
    after: datetime | None,
    before: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Run], int]:
    """Runs newest first (by ``run_after``), filtered; and how many match.

    ``dag_ids`` None: of every DAG. ``after``/``before`` bound ``run_after`` (inclusive)."""
    conditions: list[ColumnElement[bool]] = []
    if dag_ids is not None:
        conditions.append(models.DagRun.dag_id.in_(list(dag_ids)))
    if states:
        conditions.append(models.DagRun.state.in_(list(states)))
    if after is not None:
        conditions.append(models.DagRun.run_after >= after)
    if before is not None:
        conditions.append(models.DagRun.run_after <= before)
    total = session.scalar(select(func.count()).select_from(models.DagRun).where(*conditions))
    rows = session.scalars(
        select(models.DagRun)
        .where(*conditions)
        .order_by(models.DagRun.run_after.desc(), models.DagRun.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [Run.from_row(r) for r in rows], total or 0
