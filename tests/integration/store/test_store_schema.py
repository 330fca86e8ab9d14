"""Migrations: the migrated schema equals the declared one, on both backends."""

from __future__ import annotations

import importlib.resources
import threading

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from store_seeds import seed_run

from gnomon.semantics.states import TaskState
from gnomon.store import db, exceptions, pools, schema


def test_migrating_an_empty_database_yields_exactly_the_declared_schema(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    try:
        result = schema.migrate(engine)
        assert result.before == ()
        assert result.changed
        assert schema.check(engine) == []
    finally:
        engine.dispose()


def test_migrating_twice_changes_nothing(engine: Engine) -> None:
    result = schema.migrate(engine)

    assert not result.changed
    assert result.before == result.after
    assert schema.check(engine) == []


def test_a_database_migrated_by_a_newer_gnomon_is_refused(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(exceptions.SchemaNotCurrent, match=r"9999.*a newer Gnomon migrated it"):
        schema.migrate(engine)


def test_check_reports_an_unmigrated_database(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    try:
        problems = schema.check(engine)
        assert "not migrated" in problems[0]
        assert any("add_table" in p and "task_instances" in p for p in problems)
        with pytest.raises(exceptions.SchemaNotCurrent, match="not migrated"):
            schema.require_current(engine)
    finally:
        engine.dispose()


def test_check_reports_drift_from_the_models(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_task_tries_state_heartbeat_at"))
        connection.execute(text("ALTER TABLE pools ADD COLUMN surplus INTEGER"))

    problems = schema.check(engine)

    assert len(problems) == 2
    assert any("ix_task_tries_state_heartbeat_at" in p for p in problems)
    assert any("pools surplus" in p for p in problems)


def test_require_current_accepts_a_migrated_database(engine: Engine) -> None:
    schema.require_current(engine)


def test_concurrent_migrations_take_turns(empty_db_url: str) -> None:
    engine = db.make_engine(empty_db_url)
    results: list[schema.MigrationResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(schema.migrate(engine))
        except BaseException as e:
            errors.append(e)

    try:
        threads = [threading.Thread(target=run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(r.changed for r in results) == [False, False, True]
        assert schema.check(engine) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_migration_that_rebuilds_a_parent_table_keeps_the_rows_of_its_children(
    engine: Engine, session: Session
) -> None:
    seed_run(session, TaskState.NONE, TaskState.NONE)
    session.close()

    with schema.migration_transaction(engine) as connection:
        operations = Operations(MigrationContext.configure(connection))
        with operations.batch_alter_table(
            "dag_runs", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass

    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM task_instances")) == 2
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert schema.check(engine) == []


def test_the_first_migration_creates_the_default_pool_with_128_slots(session: Session) -> None:
    assert pools.get(session, "default_pool") == pools.Pool("default_pool", 128, "Default pool")


def test_migrations_ship_inside_the_package() -> None:
    versions = importlib.resources.files("gnomon.store.migrations.versions")
    names = [entry.name for entry in versions.iterdir()]

    assert (importlib.resources.files("gnomon.store.migrations") / "env.py").is_file()
    assert "v0001_initial_schema.py" in names
    assert schema.MIGRATIONS_DIR.joinpath("versions", "v0001_initial_schema.py").is_file()
