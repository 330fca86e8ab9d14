"""Dialect-portable statements that SQLAlchemy spells differently per backend."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from gnomon.store import models

T = TypeVar("T")

#: Bound parameters per statement, well under SQLite's (32766) and Postgres' (65535) limits.
CHUNK = 500


def upsert(
    session: Session, model: type[models.Base], values: Mapping[str, Any], *, key: Sequence[str]
) -> None:
    """Insert a row, or update the non-key ``values`` of the row with the same ``key``.

    One statement (``INSERT ... ON CONFLICT DO UPDATE``), so two writers racing on the same key
    cannot both insert.
    """
    stmt = _insert(session)(model).values(**values)
    updates = {name: stmt.excluded[name] for name in values if name not in key}
    if not updates:
        insert_new(session, model, values, key=key)
        return
    session.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=updates))


def insert_new(
    session: Session, model: type[models.Base], values: Mapping[str, Any], *, key: Sequence[str]
) -> None:
    """Insert a row unless a row with the same ``key`` exists (``INSERT ... ON CONFLICT DO
    NOTHING``): a writer racing another on the same key waits for it, then does nothing."""
    stmt = _insert(session)(model).values(**values)
    session.execute(stmt.on_conflict_do_nothing(index_elements=list(key)))


def _insert(session: Session) -> Any:
    """The dialect's ``insert``, which knows ``ON CONFLICT``."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def delete_one(session: Session, column: InstrumentedAttribute[Any], value: Any) -> bool:
    """Delete the row whose unique ``column`` equals ``value``; False if there was none."""
    stmt = delete(column.class_).where(column == value).returning(column)
    return session.execute(stmt).first() is not None


def pg_notify(session: Session, channel: str, payload: str) -> None:
    """Postgres ``NOTIFY`` of ``payload`` on ``channel``, delivered if the transaction
    commits (Postgres only)."""
    session.execute(select(func.pg_notify(channel, payload)))


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def columns_for(model: type[models.Base], value_class: type[Any]) -> list[Column[Any]]:
    """The columns of ``model``'s table named like the fields of the dataclass
    ``value_class``, in the fields' order: selected with Core, a row's slice of them is
    ``value_class(*values)``, without the ORM loading (and tracking) an object first."""
    table = model.__table__
    assert isinstance(table, Table)
    return [table.c[field.name] for field in dataclasses.fields(value_class)]


def slices(row: Sequence[Any], groups: Sequence[Sequence[object]]) -> list[Sequence[Any]]:
    """``row`` cut into consecutive slices as long as each of ``groups`` (the column lists a
    statement selected one after the other, e.g. from ``columns_for``)."""
    found: list[Sequence[Any]] = []
    start = 0
    for group in groups:
        found.append(row[start : start + len(group)])
        start += len(group)
    return found
