"""Postgres engines describe results on demand (``store.cursors``): the same columns as
psycopg's, built only when someone reads them."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, select, text

from gnomon.store import cursors, models

pytestmark = [pytest.mark.parametrize("backend", ["postgres"]), pytest.mark.timeout(60)]

_DAGS = models.Dag.__table__


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the ``psycopg.Column`` objects made."""
    made: list[int] = []
    real = psycopg.Column.__init__

    def counting(self: psycopg.Column, cursor: Any, index: int) -> None:
        made.append(index)
        real(self, cursor, index)

    monkeypatch.setattr(psycopg.Column, "__init__", counting)
    return made


def test_a_cached_statement_builds_no_column_objects(engine: Engine, built: list[int]) -> None:
    stmt = select(_DAGS.c.dag_id, _DAGS.c.fileloc, _DAGS.c.is_paused).limit(1)
    with engine.connect() as connection:
        connection.execute(stmt).all()  # compiled and described once
        first = len(built)
        for _ in range(3):
            assert connection.execute(stmt).all() == []
    assert first >= 3  # SQLAlchemy read the 3 columns to make its result metadata
    assert len(built) == first


def test_results_read_through_the_described_columns_as_before(engine: Engine) -> None:
    with engine.connect() as connection:
        row = connection.execute(text("SELECT 1 AS one, 'two'::text AS two, NULL AS three")).one()
        assert row._mapping == {"one": 1, "two": "two", "three": None}
        raw = connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        with raw.cursor() as cursor:
            assert isinstance(cursor, cursors.Cursor)
            cursor.execute("SELECT 1 AS one, 'x'::varchar(3) AS two")
            described = cursor.description
            assert described is not None
            assert [(c.name, c.type_code) for c in described] == [("one", 23), ("two", 1043)]
            assert len(described) == 2 and described[1].type_display == "varchar(3)"
            cursor.execute("SET application_name = 'gnomon-test'")
            assert cursor.description is None
            cursor.execute("SELECT")  # rows without columns: described, empty
            assert cursor.description is not None and list(cursor.description) == []


def test_a_description_read_after_the_next_result_is_refused(engine: Engine) -> None:
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        with raw.cursor() as cursor:
            cursor.execute("SELECT 1 AS one")
            stale = cursor.description
            cursor.execute("SELECT 2 AS two")
            assert stale is not None
            with pytest.raises(RuntimeError, match="after the next result"):
                stale[0]
