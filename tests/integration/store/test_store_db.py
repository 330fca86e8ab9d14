"""Engines: SQLite settings, Postgres URLs, and clear errors when the database is out of reach."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, exc, make_url, select, text
from support.processes import wait_for

from gnomon.store import db, exceptions, models

pytestmark = pytest.mark.timeout(60)

_LIVE_BACKEND = "SELECT 1 FROM pg_stat_activity WHERE pid = %s"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_connections_use_wal_foreign_keys_and_a_30s_busy_timeout(engine: Engine) -> None:
    with engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }

    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30_000,
        "synchronous": 1,  # NORMAL
    }


def test_default_sqlite_url_is_gnomon_db_under_home(tmp_path: Path) -> None:
    assert db.default_sqlite_url(tmp_path) == f"sqlite:///{tmp_path.resolve()}/gnomon.db"


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    engine = db.make_engine("postgresql://postgres@127.0.0.1:5432/gnomon")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/gnomon", "sqlite://", "sqlite:///:memory:", "not a url"]
)
def test_unsupported_urls_are_refused_with_the_alternatives(url: str) -> None:
    with pytest.raises(exceptions.UnsupportedDatabase):
        db.make_engine(url)


def test_an_unreachable_postgres_is_named_without_its_password() -> None:
    engine = db.make_engine("postgresql+psycopg://gnomon:s3cr3t-pw@127.0.0.1:1/gnomon")
    try:
        with pytest.raises(exceptions.DatabaseUnavailable) as caught:
            db.ping(engine)
    finally:
        engine.dispose()

    message = str(caught.value)
    assert "127.0.0.1:1" in message
    assert "s3cr3t-pw" not in message
    assert "Is the server running" in message


def test_a_sqlite_file_in_a_missing_directory_is_named(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "gnomon.db"
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(exceptions.DatabaseUnavailable) as caught:
            db.ping(engine)
    finally:
        engine.dispose()

    assert str(path) in str(caught.value)
    assert "Does the directory exist" in str(caught.value)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_write_lock_held_past_the_busy_timeout_raises_database_locked(db_url: str) -> None:
    path = db_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    engine = db.make_engine(db_url, sqlite_busy_timeout=0.1)
    try:
        with (
            pytest.raises(exceptions.DatabaseLocked, match="one writer at a time"),
            db.session_factory(engine)() as session,
        ):
            session.execute(select(models.Pool.name))
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_read_only_sessions_read_while_a_writer_holds_the_lock(engine: Engine) -> None:
    writer = db.session_factory(engine)()
    writer.execute(text("UPDATE pools SET slots = 1"))  # holds the write lock, uncommitted
    try:
        with db.session_factory(engine, read_only=True)() as reader:
            assert reader.scalar(select(models.Pool.slots)) == 128
    finally:
        writer.rollback()
        writer.close()


@pytest.mark.parametrize("backend", ["postgres"])
def test_read_only_sessions_refuse_writes_on_postgres(engine: Engine) -> None:
    with (
        db.session_factory(engine, read_only=True)() as reader,
        pytest.raises(exc.InternalError, match="read-only transaction"),
    ):
        reader.execute(text("UPDATE pools SET slots = 1"))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_write_transactions_wait_for_each_other_instead_of_failing(
    engine: Engine,
) -> None:
    """Both transactions read before they write: under a deferred BEGIN the second writer
    would fail with "database is locked"; under BEGIN IMMEDIATE it waits its turn."""
    first = db.session_factory(engine)()
    first.scalar(select(models.Pool.slots))
    done = threading.Event()

    def second() -> None:
        with db.session_factory(engine)() as session:
            slots = session.scalar(select(models.Pool.slots))
            assert slots is not None
            session.execute(text("UPDATE pools SET slots = :s"), {"s": slots + 1})
            session.commit()
        done.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not done.wait(0.3)  # blocked behind the first transaction
    first.execute(text("UPDATE pools SET slots = slots + 10"))
    first.commit()
    first.close()
    thread.join()

    assert done.is_set()
    with db.session_factory(engine)() as session:
        assert session.scalar(select(models.Pool.slots)) == 128 + 10 + 1


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    assert isinstance(pid, int)
    return pid


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_pooled_connection_the_server_closed_is_replaced_before_it_is_used(
    engine: Engine, db_url: str
) -> None:
    closed = _backend_pid(engine)  # now idle in the pool
    conninfo = make_url(db_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [closed])
        wait_for(lambda: admin.execute(_LIVE_BACKEND, [closed]).fetchone() is None)

    assert _backend_pid(engine) != closed  # no DatabaseUnavailable: checked, and replaced


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_connection_used_moments_ago_is_not_pinged_and_a_long_idle_one_is(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    first = _backend_pid(engine)
    assert (_backend_pid(engine), pings) == (first, [])  # the same connection, no round trip

    monkeypatch.setattr(db, "PING_AFTER_IDLE", -1.0)  # every connection has idled too long
    assert (_backend_pid(engine), len(pings)) == (first, 1)


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_pool_size_keeps_that_many_connections_open_between_uses(db_url: str) -> None:
    engine = db.make_engine(db_url, pool_size=8)
    try:
        connections = [engine.connect() for _ in range(8)]
        for connection in connections:
            connection.close()
        assert engine.pool.status().count("Connections in pool: 8") == 1
    finally:
        engine.dispose()
