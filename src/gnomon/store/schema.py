"""Migrating the metadata database, and checking that it matches the models.

Alembic is configured here, in code: the migrations ship inside the package
(``gnomon/store/migrations``), so no ``alembic.ini`` is needed at runtime. Run migrations
through ``migrate``, never the alembic command line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Engine, Index, Table, text
from sqlalchemy.schema import ColumnCollectionConstraint

from gnomon.store import db, exceptions, models

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: Postgres advisory lock serializing concurrent migrations (two schedulers starting at once).
#: SQLite needs none: the BEGIN IMMEDIATE of the migration excludes other writers.
_MIGRATION_LOCK = 0x676E6F6D6F6E  # "gnomon"


@dataclass(frozen=True, slots=True)
class MigrationResult:
    """The schema revisions before and after ``migrate``."""

    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def migrate(engine: Engine, revision: str = "head") -> MigrationResult:
    """Upgrade the database to the newest revision (or ``revision``, for tests of a
    migration), in one transaction; a no-op if it is there.

    Safe to call from several processes at once: they take turns, and all but the first find
    nothing left to do.
    """
    with migration_transaction(engine) as connection:
        before = _current(connection)
        script = ScriptDirectory.from_config(_config(None))
        unknown = set(before) - {rev.revision for rev in script.walk_revisions()}
        if unknown:
            raise exceptions.SchemaNotCurrent(
                f"the database is at revision {', '.join(sorted(unknown))}, which this version "
                "of Gnomon does not know: a newer Gnomon migrated it; upgrade Gnomon"
            )
        command.upgrade(_config(connection), revision)
        after = _current(connection)
    return MigrationResult(before, after)


@contextlib.contextmanager
def migration_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that no other migration runs concurrently with.

    On SQLite, foreign keys are not enforced inside it and are checked before it commits:
    alembic's batch operations rebuild a table and drop the old one, and dropping a parent
    table while foreign keys are on would cascade-delete the rows of its children. The pragma
    can only change outside a transaction, so the connection is discarded afterwards rather
    than returned to the pool with foreign keys off.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _raw_execute(connection, "PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():
                if not sqlite:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                    )
                yield connection
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                connection.invalidate()


def check(engine: Engine) -> list[str]:
    """How the database differs from what this version of Gnomon expects; empty when in step.

    Reports a revision other than the newest, then every difference alembic's autogenerate
    finds between the database and the models (tables, columns, types, nullability, indexes,
    unique constraints, foreign keys).
    """
    problems: list[str] = []
    with engine.connect() as connection:
        connection.execution_options(**{db.READ_ONLY: True})
        current, heads = _current(connection), _heads()
        if current != heads:
            problems.append(_revision_problem(current, heads))
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "target_metadata": models.Base.metadata}
        )
        problems.extend(_describe(diff) for diff in compare_metadata(context, models.Base.metadata))
    return problems


def require_current(engine: Engine) -> None:
    """Raise ``SchemaNotCurrent`` unless the database is at the newest revision (cheap)."""
    with engine.connect() as connection:
        connection.execution_options(**{db.READ_ONLY: True})
        current = _current(connection)
    heads = _heads()
    if current != heads:
        raise exceptions.SchemaNotCurrent(_revision_problem(current, heads))


def autogenerate_revision(engine: Engine, message: str) -> Path:
    """For Gnomon's developers: write a new migration from the models' changes; its path.

    ``engine`` must be migrated to the current newest revision. Review the file: alembic's
    output is a draft (batch operations, server defaults and data migrations need care).
    """
    script = ScriptDirectory.from_config(_config(None))
    rev_id = f"{int(script.get_current_head() or 0) + 1:04d}"
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True, rev_id=rev_id)
    revision = ScriptDirectory.from_config(_config(None)).get_revision(rev_id)
    if revision is None or revision.path is None:
        raise RuntimeError(f"alembic wrote no revision {rev_id}")
    return Path(revision.path)


def _config(connection: Connection | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def _raw_execute(connection: Connection, statement: str) -> None:
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is None:
        raise RuntimeError("the connection was closed")
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        table, rowid, parent, _ = violations[0]
        raise exceptions.StoreError(
            f"the migration left {len(violations)} row(s) whose foreign key matches nothing, "
            f"e.g. {table} rowid {rowid} -> {parent}; nothing was changed"
        )


def _current(connection: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


def _heads() -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory.from_config(_config(None)).get_heads()))


def _revision_problem(current: tuple[str, ...], heads: tuple[str, ...]) -> str:
    found = ", ".join(current) or "none (not migrated)"
    return (
        f"schema revision is {found}, this version of Gnomon needs {', '.join(heads)}: "
        "migrate the database (gnomon.store.schema.migrate)"
    )


def _describe(diff: Any) -> str:
    if isinstance(diff, list):
        return "; ".join(_describe(d) for d in diff)
    op, *args = diff
    if op.startswith("modify_"):
        _schema, table, column, _info, in_db, in_models = args
        what = "nullable=" if op == "modify_nullable" else ""
        return (
            f"{op} {table}.{column}: database has {what}{in_db!r}, "
            f"models declare {what}{in_models!r}"
        )
    where = "missing from the database" if op.startswith("add_") else "not in the models"
    return f"{op} ({where}): " + " ".join(_name(a) for a in args if a is not None)


def _name(item: object) -> str:
    if isinstance(item, Table):
        return item.name
    if isinstance(item, Column):
        return str(item.name)
    if isinstance(item, Index | ColumnCollectionConstraint):
        table = item.table.name if isinstance(item.table, Table) else "?"
        columns = ", ".join(str(c.name) for c in item.columns)
        return f"{item.name} on {table}({columns})"
    return str(item)
