"""Column types and constraints, as the databases themselves enforce them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, exc, select, text
from sqlalchemy.orm import Session
from store_seeds import LOGICAL_DATE, add_dag, add_run, add_ti, seed_run

from gnomon.semantics.states import TaskState
from gnomon.store import db, models


def test_datetimes_read_back_as_the_same_instant_in_utc(engine: Engine, session: Session) -> None:
    run_pk = seed_run(session).run_pk
    in_tokyo = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=9)))
    session.get_one(models.DagRun, run_pk).start_date = in_tokyo
    session.commit()

    with db.session_factory(engine)() as fresh:
        start = fresh.get_one(models.DagRun, run_pk).start_date

    assert start == in_tokyo
    assert start is not None and start.tzinfo is UTC
    assert start.hour == 0


def test_datetimes_compare_in_sql_as_instants(session: Session) -> None:
    run_pk = seed_run(session).run_pk
    session.get_one(models.DagRun, run_pk).start_date = datetime(2026, 3, 1, 10, tzinfo=UTC)
    session.commit()
    plus_two = timezone(timedelta(hours=2))

    found = session.scalar(
        select(models.DagRun.id).where(
            models.DagRun.start_date > datetime(2026, 3, 1, 11, 59, tzinfo=plus_two)
        )
    )

    assert found == run_pk


def test_naive_datetimes_are_refused(session: Session) -> None:
    run_pk = seed_run(session).run_pk
    session.get_one(models.DagRun, run_pk).start_date = datetime(2026, 3, 1, 10)

    with pytest.raises(exc.StatementError, match="naive datetime 2026-03-01T10:00:00"):
        session.commit()


def test_states_are_stored_as_airflow_strings(session: Session) -> None:
    (ti_id,) = seed_run(session, TaskState.UP_FOR_RETRY).ti_ids

    raw = session.execute(text("SELECT state FROM task_instances WHERE id = :id"), {"id": ti_id})

    assert raw.scalar() == "up_for_retry"


def test_a_duplicate_run_id_is_refused(session: Session) -> None:
    version_id = add_dag(session)
    add_run(session, "etl", version_id, run_id="scheduled__2026-01-01")
    session.commit()

    with pytest.raises(exc.IntegrityError):
        add_run(session, "etl", version_id, run_id="scheduled__2026-01-01")


def test_a_duplicate_task_instance_is_refused(session: Session) -> None:
    run_pk = seed_run(session, TaskState.NONE).run_pk

    with pytest.raises(exc.IntegrityError):
        add_ti(session, run_pk, "task_0", TaskState.NONE)


def test_foreign_keys_are_enforced(session: Session) -> None:
    with pytest.raises(exc.IntegrityError):
        add_run(session, "no_such_dag", version_id=12345)


def test_deleting_a_run_deletes_its_task_instances(session: Session) -> None:
    seeded = seed_run(session, TaskState.NONE, TaskState.NONE)

    session.execute(text("DELETE FROM dag_runs WHERE id = :id"), {"id": seeded.run_pk})
    session.commit()

    assert session.scalar(text("SELECT count(*) FROM task_instances")) == 0


def test_json_columns_keep_key_order_and_types(engine: Engine, session: Session) -> None:
    run_pk = seed_run(session).run_pk
    value = {"z": 1, "a": [1.5, None, True], "m": {"nested": "x"}}
    session.add(models.XCom(dag_run_id=run_pk, task_id="t", key="return_value", value=value))
    session.commit()

    with db.session_factory(engine)() as fresh:
        stored = fresh.scalar(select(models.XCom.value))

    assert stored == value
    assert list(stored) == ["z", "a", "m"]


def test_a_run_keeps_its_logical_date_exactly(session: Session) -> None:
    run_pk = seed_run(session).run_pk

    assert session.get_one(models.DagRun, run_pk).logical_date == LOGICAL_DATE
