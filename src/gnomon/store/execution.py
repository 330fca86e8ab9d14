"""What the execution API reads and writes about one try, for remote workers.

Each function is one statement: these run for every try a worker starts, heartbeats, pulls
XComs for and ends, so they are the API's hottest queries. State changes still go through
``store.transitions`` (via ``scheduler.outcomes``); what is here only reads, or touches columns
no state rule depends on (the heartbeat, the log's location).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.orm import Session

from gnomon.semantics.states import TaskState
from gnomon.store import models, runs, sql, task_instances, tries


@dataclass(frozen=True, slots=True)
class TryInRun:
    """A try with its task instance and its run."""

    attempt: tries.Try
    instance: task_instances.TI
    run: runs.Run


@dataclass(frozen=True, slots=True)
class Owner:
    """The run a try belongs to, and the DAG version that run executes."""

    run_pk: int
    dag_version_id: int


_TRY_IN_RUN_COLUMNS = (
    sql.columns_for(models.TaskTry, tries.Try),
    sql.columns_for(models.TaskInstance, task_instances.TI),
    sql.columns_for(models.DagRun, runs.Run),
)
_TRIES = cast(Table, models.TaskTry.__table__)
_INSTANCES = cast(Table, models.TaskInstance.__table__)
_RUNS = cast(Table, models.DagRun.__table__)
#: Core (table columns: ORM attributes would route it through the ORM's execution path),
#: built once: the ORM would load and track three objects per start, and build and hash the
#: statement each time, for values that are copied into frozen ones at once.
_IN_RUN = (
    select(*itertools.chain.from_iterable(_TRY_IN_RUN_COLUMNS))
    .join_from(_TRIES, _INSTANCES, _INSTANCES.c.id == _TRIES.c.task_instance_id)
    .join(_RUNS, _RUNS.c.id == _INSTANCES.c.dag_run_id)
)
_TRY_IN_RUN = _IN_RUN.where(_TRIES.c.id == bindparam("try_id"))
#: Two tries at once (an end and the next start it carries): one round trip, not two.
_TWO_IN_RUN = _IN_RUN.where(_TRIES.c.id.in_([bindparam("first"), bindparam("second")]))


def try_in_run(session: Session, try_id: int) -> TryInRun | None:
    """The try, its instance and its run, in one query; None if the try does not exist.
    Pass it on to ``scheduler.outcomes.started`` (``known``), which then reads none again."""
    row = session.execute(_TRY_IN_RUN, {"try_id": try_id}).first()
    return None if row is None else _try_in_run(row)


def tries_in_run(session: Session, first: int, second: int) -> dict[int, TryInRun]:
    """``try_in_run`` of two tries in one query, by try id (those that exist)."""
    rows = session.execute(_TWO_IN_RUN, {"first": first, "second": second})
    return {found.attempt.id: found for found in map(_try_in_run, rows)}


def _try_in_run(row: Row[Any]) -> TryInRun:
    attempt, instance, run = sql.slices(row, _TRY_IN_RUN_COLUMNS)
    return TryInRun(tries.Try(*attempt), task_instances.TI(*instance), runs.Run(*run))


def owner(session: Session, try_id: int) -> Owner | None:
    """The try's run and DAG version; None if the try does not exist."""
    row = session.execute(
        select(models.DagRun.id, models.DagRun.dag_version_id)
        .join(models.TaskInstance, models.TaskInstance.dag_run_id == models.DagRun.id)
        .join(models.TaskTry, models.TaskTry.task_instance_id == models.TaskInstance.id)
        .where(models.TaskTry.id == try_id)
    ).first()
    return None if row is None else Owner(row[0], row[1])


#: Built once, like the reads above: every running try heartbeats through it.
_BEAT = (
    update(_TRIES)
    .where(
        _TRIES.c.id == bindparam("try_id"),
        _TRIES.c.state == bindparam("running", type_=_TRIES.c.state.type),
        select(_INSTANCES.c.id)
        .where(
            _INSTANCES.c.id == _TRIES.c.task_instance_id,
            _INSTANCES.c.state == bindparam("running", type_=_INSTANCES.c.state.type),
        )
        .exists(),
    )
    .values(heartbeat_at=bindparam("now", type_=_TRIES.c.heartbeat_at.type))
    .returning(_TRIES.c.id)
)


def beat(session: Session, try_id: int, now: datetime) -> bool:
    """Mark the try alive at ``now`` if it and its task instance are running; False if not:
    the try was failed as a zombie, or an operator marked its instance, and should stop."""
    params = {"try_id": try_id, "running": TaskState.RUNNING, "now": now}
    return session.execute(_BEAT, params).first() is not None


def set_log_location(session: Session, try_id: int, location: str) -> None:
    """Where the try's log can be read now (a worker's log server while it runs, the log
    store once it ended)."""
    session.execute(
        update(models.TaskTry).where(models.TaskTry.id == try_id).values(log_location=location)
    )


def source_code(session: Session, version_id: int) -> str | None:
    """The DAG file's source as it was when version ``version_id`` was made."""
    return session.scalar(
        select(models.DagVersion.source_code).where(models.DagVersion.id == version_id)
    )
