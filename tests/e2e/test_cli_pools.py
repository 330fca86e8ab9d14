"""``gnomon pools set/list/delete`` as a user runs them, on the SQLite database of a fresh home."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.cli import gnomon, migrated_home

from gnomon.semantics.states import TaskState
from gnomon.store import db, models


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A GNOMON_HOME whose database is migrated (as by ``gnomon db migrate``)."""
    return migrated_home(tmp_path)


def listed(home: Path) -> dict[str, dict[str, Any]]:
    done = gnomon(home, "pools", "list", "--output", "json")
    assert done.returncode == 0, done.stderr
    return {pool["pool"]: pool for pool in json.loads(done.stdout)}


def add_task_instances(home: Path, pool: str, *slots_and_states: tuple[int, TaskState]) -> None:
    """A DAG run whose task instances, in ``pool``, each hold some slots and have a state."""
    engine = db.make_engine(db.default_sqlite_url(home))
    now = datetime.now(UTC)
    try:
        with db.session_factory(engine).begin() as session:
            session.add(models.Dag(dag_id="etl", fileloc="/dags/etl.py", is_paused=False))
            version = models.DagVersion(
                dag_id="etl", version_hash="0" * 64, serialized={}, source_code="", fileloc="x"
            )
            session.add(version)
            session.flush()
            run = models.DagRun(
                dag_id="etl",
                run_id="manual",
                dag_version_id=version.id,
                run_type=models.RunType.MANUAL,
                run_after=now,
            )
            session.add(run)
            session.flush()
            for i, (pool_slots, state) in enumerate(slots_and_states):
                session.add(
                    models.TaskInstance(
                        dag_run_id=run.id,
                        dag_id="etl",
                        run_id="manual",
                        task_id=f"t{i}",
                        state=state,
                        pool=pool,
                        pool_slots=pool_slots,
                    )
                )
    finally:
        engine.dispose()


def test_set_creates_a_pool_that_list_shows_with_its_slots_and_description(home: Path) -> None:
    done = gnomon(home, "pools", "set", "warehouse", "4", "--description", "4 connections")

    assert done.returncode == 0, done.stderr
    assert listed(home)["warehouse"] == {
        "pool": "warehouse",
        "slots": 4,
        "used_slots": 0,
        "open_slots": 4,
        "description": "4 connections",
    }
    table = gnomon(home, "pools", "list").stdout
    assert "warehouse" in table and "4 connections" in table and "default_pool" in table


def test_set_changes_the_slots_of_an_existing_pool_and_keeps_its_description(home: Path) -> None:
    gnomon(home, "pools", "set", "warehouse", "4", "--description", "the warehouse")

    done = gnomon(home, "pools", "set", "warehouse", "8")

    assert done.returncode == 0, done.stderr
    pool = listed(home)["warehouse"]
    assert (pool["slots"], pool["description"]) == (8, "the warehouse")


def test_minus_one_slots_make_a_pool_unlimited(home: Path) -> None:
    done = gnomon(home, "pools", "set", "api", "-1")

    assert done.returncode == 0, done.stderr
    pool = listed(home)["api"]
    assert (pool["slots"], pool["open_slots"]) == (-1, None)
    assert "unlimited" in gnomon(home, "pools", "list").stdout


def test_list_counts_the_slots_of_queued_and_running_tasks_as_used_and_the_rest_as_open(
    home: Path,
) -> None:
    gnomon(home, "pools", "set", "warehouse", "10")
    add_task_instances(
        home,
        "warehouse",
        (2, TaskState.QUEUED),
        (3, TaskState.RUNNING),
        (4, TaskState.SCHEDULED),
        (4, TaskState.SUCCESS),
    )

    pool = listed(home)["warehouse"]

    assert (pool["used_slots"], pool["open_slots"]) == (5, 5)


@pytest.mark.parametrize("slots", ["many", "1.5", "-2"])
def test_slots_other_than_an_integer_from_minus_one_are_refused_and_nothing_is_written(
    home: Path, slots: str
) -> None:
    done = gnomon(home, "pools", "set", "warehouse", slots)

    assert done.returncode == 2
    assert "SLOTS" in done.stderr or "slots must be" in done.stderr
    assert "warehouse" not in listed(home)


def test_delete_removes_the_pool(home: Path) -> None:
    gnomon(home, "pools", "set", "warehouse", "4")

    done = gnomon(home, "pools", "delete", "warehouse")

    assert done.returncode == 0, done.stderr
    assert "warehouse" not in listed(home)


def test_the_default_pool_cannot_be_deleted(home: Path) -> None:
    done = gnomon(home, "pools", "delete", "default_pool")

    assert done.returncode == 2
    assert "'default_pool' cannot be deleted" in done.stderr
    assert "default_pool" in listed(home)


def test_deleting_an_unknown_pool_exits_1_naming_it(home: Path) -> None:
    done = gnomon(home, "pools", "delete", "nope")

    assert done.returncode == 1
    assert done.stderr.startswith("Error: pool 'nope' does not exist")


def test_commands_without_a_database_say_to_run_db_migrate_and_create_none(
    tmp_path: Path,
) -> None:
    done = gnomon(tmp_path, "pools", "set", "warehouse", "4")

    assert done.returncode == 1
    assert "does not exist: run `gnomon db migrate`" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_commands_on_a_database_not_migrated_say_to_run_db_migrate(tmp_path: Path) -> None:
    (tmp_path / "gnomon.db").touch()

    done = gnomon(tmp_path, "pools", "list")

    assert done.returncode == 1
    assert "is not migrated to this version of Gnomon: run `gnomon db migrate`" in done.stderr
