"""Engines and sessions for the metadata database: SQLite on a laptop, Postgres at scale.

SQLite transactions: Python's ``sqlite3`` (before 3.16) emits BEGIN only before DML, so reads
are not repeatable and DDL is not transactional. We switch that off and emit BEGIN ourselves
(SQLAlchemy's documented recipe), as ``BEGIN IMMEDIATE``: a transaction takes the single write
lock when it starts, waiting up to the busy timeout for it. A deferred transaction that reads
first and writes later instead fails at once with "database is locked" whenever another
writer committed in between; that upgrade failure is what IMMEDIATE avoids. Read-only
sessions (``session_factory(engine, read_only=True)``) use a deferred BEGIN, so readers (the
API, the UI) never wait for writers under WAL.

Failures to reach the database, or locks not granted in time, are raised as
``exceptions.DatabaseUnavailable`` / ``exceptions.DatabaseLocked`` by the engine itself, so
every caller sees them, with the URL (password hidden) and a fix. A connection found broken
that way is dropped, with every connection the pool held before it (SQLAlchemy invalidates
the pool on a disconnect), so a restarted server costs at most the statement that found out.
"""

from __future__ import annotations

import select
import sqlite3
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from gnomon.store import cursors, exceptions

#: Execution option marking a connection read-only (deferred BEGIN on SQLite, a READ ONLY
#: transaction on Postgres).
READ_ONLY = "gnomon_read_only"

SQLITE_MIN_VERSION = (3, 35, 0)  # UPDATE ... RETURNING
DEFAULT_BUSY_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10
#: Connections a Postgres engine's pool opens beyond ``pool_size`` when more are in use at
#: once (they are closed when returned).
POOL_OVERFLOW = 10
#: Seconds after which a pooled Postgres connection is pinged (``SELECT 1``) before it is
#: used again: a firewall or load balancer may have dropped it without a word. One used more
#: recently is only checked, without a round trip, for a server that closed it.
PING_AFTER_IDLE = 30.0
_RETURNED_AT = "gnomon_returned_at"

_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite"}
#: Postgres errors that mean "another transaction was in the way; do it again": a lock not
#: granted in time, a deadlock the server broke by aborting us, a serialization failure.
_PG_RETRYABLE = {"55P03", "40P01", "40001"}


def default_sqlite_url(home: Path) -> str:
    """The URL of the embedded database, ``$GNOMON_HOME/gnomon.db`` (absolute)."""
    path = (home.expanduser() / "gnomon.db").resolve()
    return URL.create("sqlite", database=str(path)).render_as_string()


def safe_url(url: str | URL) -> str:
    """The URL as text with its password masked, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(
    url: str,
    *,
    sqlite_busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    application_name: str = "gnomon",
    echo: bool = False,
    pre_ping: bool = True,
    pool_size: int | None = None,
) -> Engine:
    """An engine for ``sqlite:///path`` or ``postgresql+psycopg://...``.

    ``pre_ping`` (Postgres): check each pooled connection before it is used, so that one the
    server closed (a restart) is replaced instead of failing a statement. A connection idle
    for more than ``PING_AFTER_IDLE`` seconds is pinged with ``SELECT 1``; one used more
    recently costs no round trip (see ``_check_before_use``). ``pre_ping=False`` checks
    nothing: for a busy loop that retries a pass after a connection error instead.

    ``pool_size`` (Postgres): how many connections the pool keeps open (SQLAlchemy's default,
    5, if None), plus ``POOL_OVERFLOW`` more at busy moments. A process that runs more
    transactions at once than the pool keeps opens and closes connections all the time.

    ``postgresql://`` and ``postgres://`` are taken to mean the psycopg 3 driver. Connecting is
    lazy: an unreachable database is reported (as ``DatabaseUnavailable``) on first use; call
    ``ping`` to find out at once.
    """
    parsed = _parse(url)
    if parsed.drivername in _SQLITE_SCHEMES:
        engine = create_engine(parsed, echo=echo)
        _configure_sqlite(engine, sqlite_busy_timeout)
    else:
        connect_args: dict[str, Any] = {
            "application_name": application_name,
            "cursor_factory": cursors.Cursor,
        }
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
        pool: dict[str, Any] = {}
        if pool_size is not None:
            pool.update(pool_size=pool_size, max_overflow=POOL_OVERFLOW)
        engine = create_engine(parsed, echo=echo, connect_args=connect_args, **pool)
        if pre_ping:
            _check_before_use(engine)
    event.listen(engine, "handle_error", _translate_error)
    return engine


def session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions on ``engine``. Pass them explicitly to the store's functions.

    ``expire_on_commit=False``: the store hands out value objects, and reloading rows after
    every commit would only cost round trips.
    """
    bind = engine
    if read_only:
        options: dict[str, Any] = {READ_ONLY: True}
        if engine.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        bind = engine.execution_options(**options)
    return sessionmaker(bind=bind, expire_on_commit=False)


def ping(engine: Engine) -> None:
    """Connect and run ``SELECT 1``; raise ``DatabaseUnavailable`` if that fails."""
    with engine.connect() as connection:
        connection.execution_options(**{READ_ONLY: True})
        connection.execute(text("SELECT 1"))


def dedicated_connection(engine: Engine, *, application_name: str) -> psycopg.Connection[Any]:
    """A Postgres connection of its own, outside ``engine``'s pool, in autocommit: for
    ``LISTEN``, which holds only as long as its one session lives. ``DatabaseUnavailable`` if
    the server cannot be reached."""
    if engine.dialect.name != "postgresql":
        raise exceptions.UnsupportedDatabase(
            f"{safe_url(engine.url)} is not Postgres: only Postgres has LISTEN/NOTIFY"
        )
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs.setdefault("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    kwargs.update(application_name=application_name, autocommit=True)
    try:
        return psycopg.connect(*args, **kwargs)
    except psycopg.OperationalError as e:
        reason = _first_line(str(e), engine.url.password)
        raise exceptions.DatabaseUnavailable(
            safe_url(engine.url),
            reason,
            "Is the server running, and are host, port, user and database name right?",
        ) from None


def backend_pid(session: Session) -> int | None:
    """The Postgres server process serving ``session``'s connection (the sender's pid that
    its NOTIFYs carry); None on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    dbapi_connection = session.connection().connection.dbapi_connection
    pid = getattr(getattr(dbapi_connection, "info", None), "backend_pid", None)
    return pid if isinstance(pid, int) else None


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except exc.ArgumentError as e:
        raise exceptions.UnsupportedDatabase(f"not a database URL: {url!r} ({e})") from e
    if parsed.drivername in _POSTGRES_SCHEMES:
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in _SQLITE_SCHEMES:
        raise exceptions.UnsupportedDatabase(
            f"unsupported database {safe_url(parsed)}: use sqlite:///path/to/gnomon.db "
            "or postgresql+psycopg://user:password@host:5432/dbname"
        )
    if parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory":
        raise exceptions.UnsupportedDatabase(
            f"in-memory SQLite ({safe_url(parsed)}) is private to one connection: "
            "use a file, e.g. sqlite:////tmp/gnomon.db"
        )
    if sqlite3.sqlite_version_info < SQLITE_MIN_VERSION:
        raise exceptions.UnsupportedDatabase(
            f"SQLite {sqlite3.sqlite_version} is too old: Gnomon needs 3.35 or later "
            "(UPDATE ... RETURNING); upgrade Python or use Postgres"
        )
    return parsed


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    busy_ms = int(busy_timeout * 1000)

    def on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # Take BEGIN away from sqlite3; on_begin below emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    def on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        connection.exec_driver_sql("BEGIN" if options.get(READ_ONLY) else "BEGIN IMMEDIATE")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)


def _check_before_use(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping`` costs a ``SELECT 1`` round trip per checkout, i.e. per
    transaction: on the execution API's hot path, as much as a statement of its own. Instead,
    a connection returned to the pool less than ``PING_AFTER_IDLE`` seconds ago is checked
    for data waiting on its socket: an idle connection receives nothing unless the server
    closed it (a restart or shutdown, ``idle_session_timeout``, a terminated backend, all of
    which send an error and close), or, rarely, sent a notice, when replacing it costs only a
    reconnection. Silently dropped connections (a firewall's idle timeout) are the reason for
    the ping after a longer idle time. A connection found dead invalidates the whole pool, as
    SQLAlchemy's pre-ping does: the others are as old, so as likely dead."""
    dialect = engine.dialect

    def on_checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        returned_at = record.info.pop(_RETURNED_AT, None)
        if returned_at is None:  # a new connection
            return
        if time.monotonic() - returned_at <= PING_AFTER_IDLE:
            alive = not _readable(dbapi_connection.fileno())
        else:
            try:
                alive = dialect.do_ping(dbapi_connection)
            except dialect.loaded_dbapi.Error:
                alive = False
        if not alive:
            raise exc.InvalidatePoolError("the server closed the connection")

    event.listen(engine, "checkin", on_checkin)
    event.listen(engine, "checkout", on_checkout)


def _readable(fd: int) -> bool:
    """Whether the socket has data or an end of file waiting (an error counts), at once."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _translate_error(context: ExceptionContext) -> None:
    if context.is_pre_ping or context.engine is None:
        return
    dbapi = context.dialect.loaded_dbapi
    original = context.original_exception
    if not isinstance(original, dbapi.OperationalError):
        return
    url = context.engine.url
    reason = _first_line(str(original), url.password)
    sqlite = context.dialect.name == "sqlite"
    if (sqlite and "locked" in reason) or getattr(original, "sqlstate", None) in _PG_RETRYABLE:
        hint = (
            "Another process held the write lock for longer than the busy timeout; "
            "SQLite allows one writer at a time, use Postgres to run several schedulers."
            if sqlite
            else "Another transaction was in the way (a lock wait timed out, or the server "
            "broke a deadlock); retry, or look for long-running transactions."
        )
        raise exceptions.DatabaseLocked(safe_url(url), reason, hint) from original
    if context.connection is None or context.is_disconnect or "unable to open" in reason:
        hint = (
            "Does the directory exist, and may this user write to it?"
            if sqlite
            else "Is the server running, and are host, port, user and database name right?"
        )
        raise exceptions.DatabaseUnavailable(safe_url(url), reason, hint) from original


def _first_line(message: str, password: str | None) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    line = lines[0] if lines else "unknown error"
    return line.replace(password, "***") if password else line
