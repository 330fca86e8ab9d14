"""A deadlock Postgres breaks is a retryable ``DatabaseLocked``, so a scheduler redoes its pass."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, text

from gnomon.store import db, exceptions

pytestmark = [pytest.mark.parametrize("backend", ["postgres"]), pytest.mark.timeout(60)]


def test_the_transaction_postgres_aborts_to_break_a_deadlock_raises_database_locked(
    engine: Engine,
) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE pair (id int PRIMARY KEY)"))
        connection.execute(text("INSERT INTO pair VALUES (1), (2)"))
    sessions = db.session_factory(engine)
    both_hold_one = threading.Barrier(2)
    errors: list[BaseException] = []

    def lock_in_order(first: int, second: int) -> None:
        try:
            with sessions.begin() as session:
                session.execute(text("SELECT id FROM pair WHERE id = :i FOR UPDATE"), {"i": first})
                both_hold_one.wait(timeout=10)
                session.execute(text("SELECT id FROM pair WHERE id = :i FOR UPDATE"), {"i": second})
        except exceptions.StoreError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=lock_in_order, args=order) for order in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(errors) == 1  # the other transaction went through once the first was aborted
    assert isinstance(errors[0], exceptions.DatabaseLocked)
    assert "deadlock" in str(errors[0])
