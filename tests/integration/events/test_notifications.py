"""The LISTEN side of wake-ups across machines, on a real Postgres."""

from __future__ import annotations

import select
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from support.processes import wait_for

from gnomon.events import wakeups
from gnomon.events.notifications import PostgresListener, Wakeup
from gnomon.store import db

pytestmark = [pytest.mark.parametrize("backend", ["postgres"]), pytest.mark.timeout(60)]

NAME = "gnomon-test-listener"


@pytest.fixture
def listener(engine: Engine) -> Iterator[PostgresListener]:
    made = PostgresListener(
        lambda: db.dedicated_connection(engine, application_name=NAME), min_backoff=0.05
    )
    yield made
    made.close()


def _hear(listener: PostgresListener) -> Wakeup:
    """Wait until the listener's socket is readable, then read."""
    fileno = listener.fileno()
    assert fileno is not None
    readable, _, _ = select.select([fileno], [], [], 10)
    assert readable, "no notification arrived"
    return listener.receive()


def _announce(engine: Engine, run_pk: int | None = None) -> None:
    with db.session_factory(engine).begin() as session:
        wakeups.announce(session, run_pk=run_pk)


def test_a_run_announced_in_a_committed_transaction_is_heard(
    engine: Engine, listener: PostgresListener
) -> None:
    _announce(engine, 7)
    assert _hear(listener) == Wakeup(frozenset({7}), everything=False)


def test_a_star_is_heard_as_everything(engine: Engine, listener: PostgresListener) -> None:
    _announce(engine)
    assert _hear(listener) == Wakeup(frozenset(), everything=True)


def test_an_announcement_rolled_back_is_never_heard(
    engine: Engine, listener: PostgresListener
) -> None:
    session = db.session_factory(engine)()
    with session.begin():
        wakeups.announce(session, run_pk=8)
        session.rollback()
    _announce(engine, 9)
    assert _hear(listener) == Wakeup(frozenset({9}))


def test_announcements_from_an_ignored_backend_are_dropped(
    engine: Engine, listener: PostgresListener
) -> None:
    sessions = db.session_factory(engine)
    with sessions.begin() as session:
        wakeups.announce(session, run_pk=1)
        pid = db.backend_pid(session)
    assert pid is not None
    listener.ignored_pids.add(pid)
    assert _hear(listener) == Wakeup()
    with db.dedicated_connection(engine, application_name="other") as other:  # another backend
        other.execute("SELECT pg_notify(%s, 'run:2')", (wakeups.CHANNEL,))
    assert _hear(listener) == Wakeup(frozenset({2}))


def test_after_its_connection_is_cut_it_reconnects_and_reports_everything(
    engine: Engine, listener: PostgresListener
) -> None:
    with engine.connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": NAME},
        )
        admin.commit()
    wait_for(lambda: listener.receive().everything, timeout=15)
    assert listener.connected
    _announce(engine, 3)
    assert _hear(listener) == Wakeup(frozenset({3}))
