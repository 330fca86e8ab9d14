"""Connections: how tasks reach external systems. Password and extra are encrypted at rest."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib import parse

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
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


@dataclass(frozen=True, slots=True)
class ConnectionListing:
    """A listed connection: its summary, and whether it has a password and an extra."""

    summary: ConnectionSummary
    has_password: bool
    has_extra: bool


#: URI schemes whose connection type has another name (as in Airflow).
_URI_SCHEME_TYPES = {"postgresql": "postgres"}


def from_uri(conn_id: str, uri: str, description: str | None = None) -> Connection:
    """The connection that ``uri`` describes: ``type://login:password@host:port/schema?k=v``.

    The scheme is the connection type (``postgresql`` is ``postgres``, ``-`` becomes ``_``),
    parts are percent-decoded, and query parameters become the extra (string values). Errors
    never repeat the URI: it may hold a password.
    """
    parts = parse.urlsplit(uri)
    if "://" not in uri or not parts.scheme:
        raise exceptions.InvalidValue(
            f"connection {conn_id!r}: the URI must start with the connection type, "
            "e.g. postgresql://login:password@host:5432/schema"
        )
    try:
        port = parts.port
    except ValueError as e:
        raise exceptions.InvalidValue(f"connection {conn_id!r}: bad port in the URI ({e})") from e
    extra: dict[str, str] = {}
    for name, value in parse.parse_qsl(parts.query, keep_blank_values=True):
        if name in extra:
            raise exceptions.InvalidValue(
                f"connection {conn_id!r}: the URI's query parameter {name!r} is given twice"
            )
        extra[name] = value
    return Connection(
        conn_id=conn_id,
        conn_type=_URI_SCHEME_TYPES.get(parts.scheme, parts.scheme.replace("-", "_")),
        host=_unquoted(parts.hostname),
        schema=_unquoted(parts.path.removeprefix("/")),
        login=_unquoted(parts.username),
        port=port,
        password=_unquoted(parts.password),
        extra=extra,
        description=description,
    )


def _unquoted(part: str | None) -> str | None:
    return parse.unquote(part) if part else None


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


def list_with_secret_flags(session: Session) -> list[ConnectionListing]:
    """Every connection, by conn_id, and which secrets it holds (none is decrypted)."""
    rows = session.scalars(select(models.Connection).order_by(models.Connection.conn_id))
    return [_listing(row) for row in rows]


def get_listing(session: Session, conn_id: str) -> ConnectionListing | None:
    """One connection and which secrets it holds (none is decrypted); None if unknown."""
    row = session.get(models.Connection, conn_id)
    return None if row is None else _listing(row)


def _listing(row: models.Connection) -> ConnectionListing:
    return ConnectionListing(
        ConnectionSummary.from_row(row), row.password is not None, row.extra is not None
    )


def add(session: Session, cipher: Cipher, connection: Connection) -> bool:
    """Create the connection; False, writing nothing, if its conn_id exists.

    One ``INSERT ... ON CONFLICT DO NOTHING``: of two concurrent adds, exactly one wins.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(models.Connection)
        .values(**_values(cipher, connection))
        .on_conflict_do_nothing(index_elements=["conn_id"])
        .returning(models.Connection.conn_id)
    )
    return session.execute(stmt).first() is not None


def upsert(session: Session, cipher: Cipher, connection: Connection) -> None:
    """Create the connection, or replace all of its fields."""
    sql.upsert(session, models.Connection, _values(cipher, connection), key=["conn_id"])


def _values(cipher: Cipher, connection: Connection) -> dict[str, Any]:
    """The row of ``connection``, secrets encrypted; raises InvalidValue naming the field."""
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
    return {
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


def delete(session: Session, conn_id: str) -> bool:
    """Delete the connection; False if there was none."""
    return sql.delete_one(session, models.Connection.conn_id, conn_id)
