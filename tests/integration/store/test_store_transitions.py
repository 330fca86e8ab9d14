"""Guarded transitions: whoever loses a race changes nothing and learns that it lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session
from store_seeds import add_try, seed_run
from support.processes import wait_for

from gnomon.events import wakeups
from gnomon.semantics.states import RunState, TaskState
from gnomon.store import db, exceptions, models, transitions

pytestmark = pytest.mark.timeout(60)
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def ti_state(engine: Engine, ti_id: int) -> TaskState:
    with db.session_factory(engine)() as session:
        return session.get_one(models.TaskInstance, ti_id).state


def test_the_expected_state_moves_to_the_new_one_with_its_fields(
    engine: Engine, session: Session
) -> None:
    (ti_id,) = seed_run(session, TaskState.QUEUED).ti_ids

    won = transitions.set_ti_state(
        session,
        ti_id,
        expected=TaskState.QUEUED,
        new=TaskState.RUNNING,
        start_date=NOW,
        hostname="worker-1",
    )
    session.commit()

    assert won
    with db.session_factory(engine)() as check:
        ti = check.get_one(models.TaskInstance, ti_id)
        assert (ti.state, ti.start_date, ti.hostname) == (TaskState.RUNNING, NOW, "worker-1")


def test_the_second_of_two_sequential_movers_loses(engine: Engine, session: Session) -> None:
    (ti_id,) = seed_run(session, TaskState.QUEUED).ti_ids
    make = db.session_factory(engine)

    with make() as first:
        assert transitions.set_ti_state(
            first, ti_id, expected=TaskState.QUEUED, new=TaskState.RUNNING, hostname="a"
        )
        first.commit()
    with make() as second:
        assert not transitions.set_ti_state(
            second, ti_id, expected=TaskState.QUEUED, new=TaskState.RUNNING, hostname="b"
        )
        second.commit()

    with make() as check:
        assert check.get_one(models.TaskInstance, ti_id).hostname == "a"


def test_of_two_concurrent_movers_exactly_one_wins(engine: Engine, session: Session) -> None:
    """Two real connections. The first has moved the instance but not committed; the second's
    attempt waits (Postgres: on the row lock; SQLite: at BEGIN IMMEDIATE) and, once the first
    commits, matches nothing."""
    (ti_id,) = seed_run(session, TaskState.QUEUED).ti_ids
    make = db.session_factory(engine)
    results: dict[str, bool] = {}
    first = make()
    results["first"] = transitions.set_ti_state(
        first, ti_id, expected=TaskState.QUEUED, new=TaskState.RUNNING, hostname="a"
    )

    def second_scheduler() -> None:
        with make() as second:
            results["second"] = transitions.set_ti_state(
                second, ti_id, expected=TaskState.QUEUED, new=TaskState.RUNNING, hostname="b"
            )
            second.commit()

    thread = threading.Thread(target=second_scheduler)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive(), "the second mover should wait for the first to commit"
    first.commit()
    first.close()
    thread.join(30)

    assert results == {"first": True, "second": False}
    with make() as check:
        assert check.get_one(models.TaskInstance, ti_id).hostname == "a"


def test_a_late_report_expecting_the_wrong_state_changes_nothing(
    engine: Engine, session: Session
) -> None:
    (ti_id,) = seed_run(session, TaskState.RUNNING).ti_ids
    # The zombie reaper gives up on the silent try first...
    assert transitions.set_ti_state(
        session, ti_id, expected=TaskState.RUNNING, new=TaskState.UP_FOR_RETRY
    )
    session.commit()

    # ...then the original worker reports success.
    won = transitions.set_ti_state(
        session, ti_id, expected=TaskState.RUNNING, new=TaskState.SUCCESS, end_date=NOW
    )
    session.commit()

    assert not won
    with db.session_factory(engine)() as check:
        ti = check.get_one(models.TaskInstance, ti_id)
        assert (ti.state, ti.end_date) == (TaskState.UP_FOR_RETRY, None)


def test_any_of_several_expected_states_may_be_left(session: Session) -> None:
    (ti_id,) = seed_run(session, TaskState.UP_FOR_RETRY).ti_ids

    assert transitions.set_ti_state(
        session,
        ti_id,
        expected={TaskState.NONE, TaskState.UP_FOR_RETRY},
        new=TaskState.SCHEDULED,
    )


def test_a_transition_moves_updated_at(engine: Engine, session: Session) -> None:
    (ti_id,) = seed_run(session, TaskState.QUEUED).ti_ids
    before = session.get_one(models.TaskInstance, ti_id).updated_at

    transitions.set_ti_state(session, ti_id, expected=TaskState.QUEUED, new=TaskState.RUNNING)
    session.commit()

    with db.session_factory(engine)() as check:
        assert check.get_one(models.TaskInstance, ti_id).updated_at > before


def test_instances_held_by_the_session_see_the_new_state(session: Session) -> None:
    (ti_id,) = seed_run(session, TaskState.QUEUED).ti_ids
    held = session.get_one(models.TaskInstance, ti_id)

    transitions.set_ti_state(session, ti_id, expected=TaskState.QUEUED, new=TaskState.RUNNING)

    assert held.state == TaskState.RUNNING


def test_the_bulk_variant_returns_only_the_ids_that_changed(session: Session) -> None:
    seeded = seed_run(session, TaskState.NONE, TaskState.SCHEDULED, TaskState.NONE)
    unknown_id = max(seeded.ti_ids) + 100

    changed = transitions.set_ti_states(
        session,
        [*seeded.ti_ids, unknown_id],
        expected=TaskState.NONE,
        new=TaskState.SCHEDULED,
    )
    session.commit()

    assert changed == [seeded.ti_ids[0], seeded.ti_ids[2]]
    states = session.scalars(
        select(models.TaskInstance.state).order_by(models.TaskInstance.id)
    ).all()
    assert states == [TaskState.SCHEDULED] * 3


def test_run_transitions_are_guarded_too(session: Session) -> None:
    run_pk = seed_run(session).run_pk

    assert transitions.set_run_state(
        session, run_pk, expected=RunState.RUNNING, new=RunState.SUCCESS, end_date=NOW
    )
    assert not transitions.set_run_state(
        session, run_pk, expected=RunState.RUNNING, new=RunState.FAILED
    )
    session.commit()

    run = session.get_one(models.DagRun, run_pk)
    assert (run.state, run.end_date) == (RunState.SUCCESS, NOW)


def test_a_repeated_try_report_changes_nothing(session: Session) -> None:
    (ti_id,) = seed_run(session, TaskState.RUNNING).ti_ids
    try_id = add_try(session, ti_id, 1, TaskState.RUNNING)

    first = transitions.set_try_state(
        session, try_id, expected=TaskState.RUNNING, new=TaskState.SUCCESS, exit_reason="exit 0"
    )
    repeat = transitions.set_try_state(
        session, try_id, expected=TaskState.RUNNING, new=TaskState.SUCCESS, exit_reason="again"
    )
    session.commit()

    assert (first, repeat) == (True, False)
    assert session.get_one(models.TaskTry, try_id).exit_reason == "exit 0"


def test_a_field_the_table_lacks_is_refused(session: Session) -> None:
    (ti_id,) = seed_run(session, TaskState.QUEUED).ti_ids

    with pytest.raises(exceptions.UnknownField, match=r"task_instances has no column.*hostnmae"):
        transitions.set_ti_state(
            session, ti_id, expected=TaskState.QUEUED, new=TaskState.RUNNING, hostnmae="x"
        )


def test_state_itself_cannot_be_passed_as_a_field(session: Session) -> None:
    (ti_id,) = seed_run(session, TaskState.QUEUED).ti_ids

    with pytest.raises(exceptions.UnknownField):
        transitions.set_ti_state(
            session,
            ti_id,
            expected=TaskState.QUEUED,
            new=TaskState.RUNNING,
            state=TaskState.FAILED,
        )


def test_an_empty_expected_set_is_refused(session: Session) -> None:
    (ti_id,) = seed_run(session, TaskState.QUEUED).ti_ids

    with pytest.raises(ValueError, match="expected names no state"):
        transitions.set_ti_state(session, ti_id, expected=[], new=TaskState.RUNNING)


def test_queueing_moves_only_scheduled_instances_and_raises_their_try_numbers(
    engine: Engine, session: Session
) -> None:
    scheduled, running = seed_run(session, TaskState.SCHEDULED, TaskState.RUNNING).ti_ids

    moved = transitions.queue_instances(session, [scheduled, running], queued_at=NOW)
    session.commit()

    assert moved == {scheduled: 1}
    assert (ti_state(engine, scheduled), ti_state(engine, running)) == (
        TaskState.QUEUED,
        TaskState.RUNNING,
    )


@pytest.mark.parametrize("backend", ["postgres"])
def test_queueing_passes_over_an_instance_another_transaction_holds_without_waiting(
    engine: Engine, session: Session
) -> None:
    held, free = seed_run(session, TaskState.SCHEDULED, TaskState.SCHEDULED).ti_ids
    make = db.session_factory(engine)

    with make.begin() as holder:  # an operator marking it, say
        assert transitions.set_ti_state(
            holder, held, expected=TaskState.SCHEDULED, new=TaskState.SUCCESS
        )
        with make.begin() as scheduler:
            moved = transitions.queue_instances(scheduler, [held, free], queued_at=NOW)
        assert moved == {free: 1}

    assert ti_state(engine, held) is TaskState.SUCCESS


# -- a try and then its instance (one statement on Postgres) --------------------------------
def _pair(session: Session, try_state: TaskState, ti_state_now: TaskState) -> tuple[int, int]:
    (ti_id,) = seed_run(session, ti_state_now).ti_ids
    try_id = add_try(session, ti_id, 1, try_state)
    session.commit()
    return try_id, ti_id


def _start(
    session: Session,
    try_id: int,
    ti_id: int,
    *,
    ti_fields: Mapping[str, object] | None = None,
    notify: tuple[str, str] | None = None,
) -> tuple[bool, bool]:
    return transitions.set_try_then_ti_state(
        session,
        try_id,
        ti_id,
        expected=TaskState.QUEUED,
        new=TaskState.RUNNING,
        try_fields={"hostname": "worker-1", "start_date": NOW},
        ti_expected=[TaskState.QUEUED],
        ti_new=TaskState.RUNNING,
        ti_fields={"hostname": "worker-1"} if ti_fields is None else ti_fields,
        notify=notify,
    )


def _rows(engine: Engine, try_id: int, ti_id: int) -> tuple[models.TaskTry, models.TaskInstance]:
    with db.session_factory(engine)() as session:
        attempt = session.get_one(models.TaskTry, try_id)
        ti = session.get_one(models.TaskInstance, ti_id)
        session.expunge_all()
    return attempt, ti


def test_a_try_and_its_instance_move_together_with_their_fields(
    engine: Engine, session: Session
) -> None:
    try_id, ti_id = _pair(session, TaskState.QUEUED, TaskState.QUEUED)
    before = _rows(engine, try_id, ti_id)[1].updated_at
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    assert _start(session, try_id, ti_id) == (True, True)
    event.remove(engine, "before_cursor_execute", seen)
    session.commit()
    attempt, ti = _rows(engine, try_id, ti_id)
    assert (attempt.state, attempt.hostname, attempt.start_date) == (
        TaskState.RUNNING,
        "worker-1",
        NOW,
    )
    assert (ti.state, ti.hostname) == (TaskState.RUNNING, "worker-1")
    assert ti.updated_at > before
    writes = [s for s in statements if "task_" in s]
    assert len(writes) == (1 if engine.dialect.name == "postgresql" else 2)


def test_an_instance_does_not_move_when_its_try_loses(engine: Engine, session: Session) -> None:
    try_id, ti_id = _pair(session, TaskState.FAILED, TaskState.QUEUED)
    assert _start(session, try_id, ti_id) == (False, False)
    session.commit()
    attempt, ti = _rows(engine, try_id, ti_id)
    assert (attempt.state, attempt.hostname) == (TaskState.FAILED, None)
    assert (ti.state, ti.hostname) == (TaskState.QUEUED, None)


def test_a_try_moves_alone_when_its_instance_was_moved_elsewhere(
    engine: Engine, session: Session
) -> None:
    try_id, ti_id = _pair(session, TaskState.QUEUED, TaskState.FAILED)  # an operator's mark
    assert _start(session, try_id, ti_id) == (True, False)
    session.commit()
    attempt, ti = _rows(engine, try_id, ti_id)
    assert attempt.state is TaskState.RUNNING
    assert (ti.state, ti.hostname) == (TaskState.FAILED, None)


def _heard(engine: Engine, action: Callable[[], object]) -> list[str]:
    """The payloads on the wake-up channel that ``action`` (committing) sends: all of them,
    as a last notification sent after it arrives after them (commit order)."""
    heard: list[str] = []
    with db.dedicated_connection(engine, application_name="gnomon-test") as listening:
        listening.add_notify_handler(lambda n: heard.append(n.payload))
        listening.execute(f"LISTEN {wakeups.CHANNEL}")
        action()
        with db.session_factory(engine).begin() as other:
            other.execute(select(func.pg_notify(wakeups.CHANNEL, "last")))
        wait_for(lambda: bool(listening.execute("SELECT 1")) and "last" in heard)
    return heard[: heard.index("last")]


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_pair_notifies_in_its_own_statement_only_if_the_instance_moved(
    engine: Engine, session: Session
) -> None:
    # The second instance was marked by an operator: its try moves alone.
    ti_ids = seed_run(session, TaskState.QUEUED, TaskState.FAILED).ti_ids
    moving, held = ((add_try(session, ti_id, 1, TaskState.QUEUED), ti_id) for ti_id in ti_ids)
    session.commit()
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    def start_both() -> None:
        for (try_id, ti_id), payload in ((moving, "run:1"), (held, "run:2")):
            _start(session, try_id, ti_id, notify=(wakeups.CHANNEL, payload))
        session.commit()

    event.listen(engine, "before_cursor_execute", seen)
    try:
        heard = _heard(engine, start_both)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert heard == ["run:1"]
    assert len([s for s in statements if "task_" in s]) == 2  # a statement per pair


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_pair_with_a_computed_field_notifies_in_a_statement_of_its_own(
    engine: Engine, session: Session
) -> None:
    try_id, ti_id = _pair(session, TaskState.QUEUED, TaskState.QUEUED)

    def start() -> None:
        computed = {"max_tries": models.TaskInstance.max_tries + 1}
        _start(session, try_id, ti_id, ti_fields=computed, notify=(wakeups.CHANNEL, "run:3"))
        session.commit()

    assert _heard(engine, start) == ["run:3"]
    assert _rows(engine, try_id, ti_id)[1].state is TaskState.RUNNING


def test_a_pair_with_an_unknown_field_is_refused(session: Session) -> None:
    try_id, ti_id = _pair(session, TaskState.QUEUED, TaskState.QUEUED)
    with pytest.raises(exceptions.UnknownField, match=r"task_instances has no column.*hostnmae"):
        transitions.set_try_then_ti_state(
            session,
            try_id,
            ti_id,
            expected=TaskState.QUEUED,
            new=TaskState.RUNNING,
            try_fields={},
            ti_expected=TaskState.QUEUED,
            ti_new=TaskState.RUNNING,
            ti_fields={"hostnmae": "x"},
        )
