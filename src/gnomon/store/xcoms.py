"""XCom values (JSON) of a run, and the lengths mapped tasks expand over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gnomon.semantics.planning import XComLengths
from gnomon.store import models, sql


def store(
    session: Session,
    run_pk: int,
    task_id: str,
    map_index: int,
    values: Mapping[str, Any],
    lengths: Mapping[str, int | None],
) -> None:
    """Record what one try pushed (replacing an earlier try's values under the same keys)."""
    for key, value in values.items():
        sql.upsert(
            session,
            models.XCom,
            {
                "dag_run_id": run_pk,
                "task_id": task_id,
                "map_index": map_index,
                "key": key,
                "value": value,
            },
            key=("dag_run_id", "task_id", "map_index", "key"),
        )
    if map_index >= 0:
        return  # a mapped instance's values are expanded over by count of successes instead
    for key, length in lengths.items():
        sql.upsert(
            session,
            models.TaskMap,
            {"dag_run_id": run_pk, "task_id": task_id, "key": key, "length": length},
            key=("dag_run_id", "task_id", "key"),
        )


def pull(session: Session, run_pk: int, task_id: str, key: str) -> dict[int, Any]:
    """Values ``task_id`` pushed under ``key`` in the run, by map index."""
    rows = session.execute(
        select(models.XCom.map_index, models.XCom.value).where(
            models.XCom.dag_run_id == run_pk,
            models.XCom.task_id == task_id,
            models.XCom.key == key,
        )
    ).all()
    return {map_index: value for map_index, value in rows}


def lengths(session: Session, run_pk: int) -> XComLengths:
    rows = session.execute(
        select(models.TaskMap.task_id, models.TaskMap.key, models.TaskMap.length).where(
            models.TaskMap.dag_run_id == run_pk
        )
    ).all()
    return {(task_id, key): length for task_id, key, length in rows}


def clear(session: Session, run_pk: int, task_id: str, map_index: int | None) -> None:
    """Forget what an instance pushed (before it runs again); ``map_index=None``: what every
    instance of the task pushed."""
    stmt = delete(models.XCom).where(
        models.XCom.dag_run_id == run_pk, models.XCom.task_id == task_id
    )
    if map_index is not None:
        stmt = stmt.where(models.XCom.map_index == map_index)
    session.execute(stmt)
    if map_index is None or map_index < 0:
        session.execute(
            delete(models.TaskMap).where(
                models.TaskMap.dag_run_id == run_pk, models.TaskMap.task_id == task_id
            )
        )


@dataclass(frozen=True, slots=True)
class Pushed:
    key: str
    map_index: int
    value: Any


def of_instance(
    session: Session, run_pk: int, task_id: str, map_index: int, *, limit: int, offset: int
) -> tuple[list[Pushed], int]:
    """What one task instance pushed, by key, and how many keys there are."""
    where = (
        models.XCom.dag_run_id == run_pk,
        models.XCom.task_id == task_id,
        models.XCom.map_index == map_index,
    )
    total = session.scalar(select(func.count()).select_from(models.XCom).where(*where))
    rows = session.execute(
        select(models.XCom.key, models.XCom.map_index, models.XCom.value)
        .where(*where)
        .order_by(models.XCom.key)
        .limit(limit)
        .offset(offset)
    )
    return [Pushed(*r) for r in rows], total or 0
