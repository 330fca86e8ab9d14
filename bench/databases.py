"""Fresh, migrated metadata databases for one scenario each: a SQLite file in a temporary
folder, or a Postgres database ``gnomon_bench_<random>_<n>`` created on a server where the
user may create databases, and dropped afterwards."""

from __future__ import annotations

import itertools
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL, make_url

from gnomon.store import db, schema

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class PostgresUnavailable(Exception):
    """The Postgres server cannot be reached; the message says why."""


def sqlite_url(path: Path) -> str:
    return URL.create("sqlite", database=str(path)).render_as_string()


def migrate(url: str) -> None:
    engine = db.make_engine(url)
    try:
        schema.migrate(engine)
    finally:
        engine.dispose()


class Backend(Protocol):
    name: str
    version: str

    def database(self, folder: Path) -> AbstractContextManager[str]:
        """A new, migrated database's URL, removed on exit (``folder`` is scratch space)."""
        ...

    def close(self) -> None: ...


class SqliteBackend:
    name = "sqlite"
    version = sqlite3.sqlite_version

    @contextmanager
    def database(self, folder: Path) -> Iterator[str]:
        url = sqlite_url(folder / "gnomon.db")
        migrate(url)
        yield url  # the caller removes the folder

    def close(self) -> None:
        pass


class PostgresServer:
    """Creates databases for the benchmark on one server, and drops every one it created."""

    name = "postgres"

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        conninfo = self.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            self.admin: psycopg.Connection[TupleRow] = psycopg.connect(
                conninfo, autocommit=True, connect_timeout=5
            )
        except psycopg.OperationalError as exc:
            reason = " ".join(str(exc).split())
            raise PostgresUnavailable(
                f"Postgres at {db.safe_url(self.admin_url)} is unreachable ({reason})"
            ) from None
        self.prefix = f"gnomon_bench_{secrets.token_hex(4)}"
        self._numbers = itertools.count()
        number = self.admin.info.server_version  # e.g. 150020 for 15.20
        self.version = f"{number // 10000}.{number % 10000}"

    def close(self) -> None:
        self.admin.close()

    @contextmanager
    def database(self, folder: Path) -> Iterator[str]:
        name = f"{self.prefix}_{next(self._numbers)}"
        self.admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            url = self.admin_url.set(database=name).render_as_string(hide_password=False)
            migrate(url)
            yield url
        finally:
            self.admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def open_backend(name: str, postgres_url: str) -> Backend:
    """``sqlite`` or ``postgres``; PostgresUnavailable if its server cannot be reached."""
    if name == "sqlite":
        return SqliteBackend()
    if name == "postgres":
        return PostgresServer(postgres_url)
    raise ValueError(f"unknown backend {name!r}: use sqlite or postgres")
