"""Connections: how tasks reach external systems. Password and extra are encrypted at rest."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gnomon.store import exceptions, models, sql
from gnomon.store.secrets import Cipher


@dataclass(frozen=True, slots=True)
class Connection:
    """A connection with its secrets (only ``get`` returns these; ``repr`` hides them)."""

    conn_id: str
    conn_type: str
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    port: int | None = None
    password: str | None = field(default=None, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionSummary:
    """What listings show: everything but the password and extra."""

    conn_id: str
    conn_type: str
    host: str | None
    schema: str | None
    login: str | None
    port: int | None
    description: str | None

    @classmethod
    def from_row(cls, row: models.Connection) -> ConnectionSummary:
        return cls(
            row.conn_id, row.conn_type, row.host, row.schema, row.login, row.port, row.description
        )


def get(session: Session, cipher: Cipher, conn_id: str) -> Connection | None:
    row = session.get(models.Connection, conn_id)
    if row is None:
        return None
    what = f"connection {conn_id!r}"
    password = None if row.password is None else cipher.decrypt(row.password, what=what)
    extra = {} if row.extra is None else json.loads(cipher.decrypt(row.extra, what=what))
    return Connection(
        conn_id=row.conn_id,
        conn_type=row.conn_type,
        host=row.host,
        schema=row.schema,
        login=row.login,
        port=row.port,
        password=password,
        extra=extra,
        description=row.description,
    )


def list_all(session: Session) -> list[ConnectionSummary]:
    rows = session.scalars(select(models.Connection).order_by(models.Connection.conn_id))
    return [ConnectionSummary.from_row(row) for row in rows]


def upsert(session: Session, cipher: Cipher, connection: Connection) -> None:
    """Create the connection, or replace all of its fields."""
    conn_id = connection.conn_id
    if not conn_id or len(conn_id) > models.ID_LEN:
        raise exceptions.InvalidValue(
            f"conn_id {conn_id!r} must have 1 to {models.ID_LEN} characters"
        )
    if not connection.conn_type:
        raise exceptions.InvalidValue(f"connection {conn_id!r}: conn_type is required")
    try:
        extra = json.dumps(dict(connection.extra)) if connection.extra else None
    except TypeError as e:
        raise exceptions.InvalidValue(
            f"connection {conn_id!r}: extra must be JSON-serializable ({e})"
        ) from e
    values = {
        "conn_id": conn_id,
        "conn_type": connection.conn_type,
        "host": connection.host,
        "schema": connection.schema,
        "login": connection.login,
        "port": connection.port,
        "password": None if connection.password is None else cipher.encrypt(connection.password),
        "extra": None if extra is None else cipher.encrypt(extra),
        "description": connection.description,
    }
    sql.upsert(session, models.Connection, values, key=["conn_id"])


def delete(session: Session, conn_id: str) -> bool:
    """Delete the connection; False if there was none."""
    return sql.delete_one(session, models.Connection.conn_id, conn_id)
