"""The one way states change: ``UPDATE ... SET state = new WHERE id = ? AND state IN expected``.

Every component decides on what it last read, and by the time it writes, someone else may have
acted: another scheduler, a worker, the zombie reaper, an operator in the UI. So a transition
never assumes; it names the states it expects to leave and learns from the row count whether
it won. The loser does nothing further (no executor call, no callback, no retry), because the
winner already owns what comes next. Each function is one statement: atomic on every backend
with no explicit locking, and, on Postgres, a second writer blocked on the same row re-checks
the WHERE clause after the first commits and so matches nothing.

Extra ``fields`` (``start_date=...``, ``hostname=...``) are written in the same statement,
only if the transition wins. ``updated_at`` moves automatically.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, Update, bindparam, exists, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.sql.elements import ClauseElement

from gnomon.semantics.states import RunState, TaskState
from gnomon.store import exceptions, locks, models, sql

S = TypeVar("S", TaskState, RunState)
Model = type[models.TaskInstance] | type[models.DagRun] | type[models.TaskTry]


def set_ti_state(
    session: Session,
    ti_id: int,
    *,
    expected: TaskState | Collection[TaskState],
    new: TaskState,
    **fields: object,
) -> bool:
    """Move task instance ``ti_id`` from one of ``expected`` to ``new``; True if this call won.

    Races it settles:

    - *Two schedulers* both see a ``scheduled`` instance with a free pool slot and both try to
      queue it (``scheduled -> queued``): one wins and sends it to the executor; the other
      gets False and must not, so a try never runs twice.
    - *A late worker report*: the zombie reaper moved a silent ``running`` instance to
      ``up_for_retry``; the original worker then reports success expecting ``running``. The
      report changes nothing, and the retry that the reaper scheduled stands.
    - *A retry after a zombie*: the scheduler re-queues ``up_for_retry -> scheduled`` while an
      operator marks the instance ``failed`` in the UI; whichever commits second loses.
    """
    return bool(_transition(session, models.TaskInstance, [ti_id], expected, new, fields))


def set_ti_states(
    session: Session,
    ti_ids: Collection[int],
    *,
    expected: TaskState | Collection[TaskState],
    new: TaskState,
    **fields: object,
) -> list[int]:
    """Bulk ``set_ti_state``: the ids (ascending) that were in ``expected`` and are now ``new``.

    Guards the same races instance by instance: e.g. two schedulers expanding the same run
    (``none -> scheduled``) each move only the instances the other did not already move.
    Uses ``RETURNING`` (Postgres; SQLite >= 3.35) to learn which rows changed.
    """
    return _transition(session, models.TaskInstance, ti_ids, expected, new, fields)


def queue_instances(
    session: Session, ti_ids: Collection[int], *, queued_at: datetime
) -> dict[int, int]:
    """Move the instances ``ti_ids`` from ``scheduled`` to ``queued``, each with its try
    number raised by one; the new try number of each instance moved, by id.

    One statement for all of them. On Postgres it passes over rows another transaction holds
    (``FOR NO KEY UPDATE SKIP LOCKED``) instead of waiting for them.

    Races it settles:

    - *Two schedulers* queueing the same instance: one moves it; the other finds it no longer
      ``scheduled`` (or held, and passes over it) and must not send it to its executor.
    - *An operator* marking or clearing a candidate while the scheduler queues it: the
      scheduler does not wait for the operator's transaction, it leaves that instance for a
      later pass, where the state it then has decides.
    """
    table = cast(Table, models.TaskInstance.__table__)
    moved: dict[int, int] = {}
    for chunk in sql.chunks(sorted(set(ti_ids))):
        # A CTE, run once: as an IN (subquery), the planner may rerun the locking subquery
        # for every scheduled row when its statistics are stale (seen here: 130 ms for one
        # instance among 1,000). By id only, so it always uses the primary key.
        claimed = locks.skip_locked(session, select(table.c.id).where(table.c.id.in_(chunk)))
        held = claimed.cte("claimed")
        stmt = (
            update(table)
            .where(table.c.id == held.c.id, table.c.state == TaskState.SCHEDULED)
            .values(state=TaskState.QUEUED, try_number=table.c.try_number + 1, queued_at=queued_at)
            .returning(table.c.id, table.c.try_number)
        )
        moved.update((ti_id, number) for ti_id, number in session.execute(stmt))
    if moved:
        session.expire_all()
    return moved


def set_run_state(
    session: Session,
    dag_run_pk: int,
    *,
    expected: RunState | Collection[RunState],
    new: RunState,
    **fields: object,
) -> bool:
    """Move DAG run ``dag_run_pk`` (``dag_runs.id``) from ``expected`` to ``new``; True if won.

    Races it settles:

    - *Two schedulers* admitting a ``queued`` run under ``max_active_runs``
      (``queued -> running``): only one starts it.
    - *Two schedulers* finishing a run at once (``running -> success``): the completion
      callback and the next-run bookkeeping happen once.
    - *An operator* marking a run ``failed`` while the scheduler marks it ``success``:
      the second writer sees the run already finished and leaves it.
    """
    return bool(_transition(session, models.DagRun, [dag_run_pk], expected, new, fields))


def set_try_state(
    session: Session,
    try_id: int,
    *,
    expected: TaskState | Collection[TaskState],
    new: TaskState,
    **fields: object,
) -> bool:
    """Move one try (``task_tries.id``) from ``expected`` to ``new``; True if this call won.

    Races it settles:

    - *The zombie reaper vs. the worker*: the reaper fails a ``running`` try whose heartbeat
      is stale at the moment the worker reports its end; one of them records the outcome.
    - *A repeated report* (the worker retrying a request whose answer was lost) finds the try
      already finished and changes nothing, so reports are idempotent.
    - *A retry after a zombie*: a report for try 1 cannot touch try 2, which is another row.
    """
    return bool(_transition(session, models.TaskTry, [try_id], expected, new, fields))


def set_try_then_ti_state(
    session: Session,
    try_id: int,
    ti_id: int,
    *,
    expected: TaskState | Collection[TaskState],
    new: TaskState,
    try_fields: Mapping[str, object],
    ti_expected: TaskState | Collection[TaskState],
    ti_new: TaskState,
    ti_fields: Mapping[str, object],
    notify: tuple[str, str] | None = None,
) -> tuple[bool, bool]:
    """``set_try_state`` of try ``try_id``, then, only if it won, ``set_ti_state`` of its
    instance ``ti_id``: whether each won. The races are theirs. ``notify`` (a Postgres
    channel and payload: ``events.wakeups.notice``) is sent with ``pg_notify`` only if the
    instance moved, so delivered only if that commits.

    On Postgres it is one statement: two data-modifying CTEs, the instance's guarded by
    what the try's returned, so the instance moves only if the try did, as with two
    statements in turn, and the notification's select on what the instance's returned (a
    try's start and end are the execution API's hottest writes, and each statement is a
    round trip). Elsewhere, and for fields computed in SQL, a statement each."""
    fields = {"try": try_fields, "ti": ti_fields}
    computed = any(isinstance(v, ClauseElement) for f in fields.values() for v in f.values())
    if computed or not locks.contended(session):
        won = set_try_state(session, try_id, expected=expected, new=new, **try_fields)
        moved = won and set_ti_state(session, ti_id, expected=ti_expected, new=ti_new, **ti_fields)
        if moved and notify is not None:
            sql.pg_notify(session, *notify)
        return won, moved
    try_states, ti_states = _as_states(expected), _as_states(ti_expected)
    stmt = _pair_statement(
        tuple(sorted(try_fields)),
        len(try_states),
        tuple(sorted(ti_fields)),
        len(ti_states),
        notify is not None,
    )
    params: dict[str, object] = {"try_id": try_id, "ti_id": ti_id}
    if notify is not None:
        params["channel"], params["payload"] = notify
    for prefix, states, state, values in (
        ("try", try_states, new, try_fields),
        ("ti", ti_states, ti_new, ti_fields),
    ):
        params[f"{prefix}_new_state"] = state
        params.update((f"{prefix}_new_{name}", value) for name, value in values.items())
        params.update((f"{prefix}_expected_{i}", each) for i, each in enumerate(states))
    row = session.execute(stmt, params).one()
    try_won, ti_won = bool(row[0]), bool(row[1])
    if try_won:
        session.expire_all()
    return try_won, ti_won


@functools.cache
def _pair_statement(
    try_names: tuple[str, ...],
    try_states: int,
    ti_names: tuple[str, ...],
    ti_states: int,
    notify: bool,
) -> Select[Any]:
    """``set_try_then_ti_state``'s statement on Postgres, built once per shape."""
    _check_fields(models.TaskTry, try_names)
    _check_fields(models.TaskInstance, ti_names)

    def guarded(model: Model, prefix: str, names: tuple[str, ...], states: int) -> Update:
        table = cast(Table, model.__table__)
        state = table.c.state
        expected = [bindparam(f"{prefix}_expected_{i}", type_=state.type) for i in range(states)]
        values = {
            name: bindparam(f"{prefix}_new_{name}", type_=table.c[name].type)
            for name in ("state", *names)
        }
        key = table.c.id == bindparam(f"{prefix}_id", type_=table.c.id.type)
        return update(table).where(key, state.in_(expected)).values(values)

    moved_try = (
        guarded(models.TaskTry, "try", try_names, try_states)
        .returning(models.TaskTry.__table__.c.id)
        .cte("moved_try")
    )
    moved_ti = (
        guarded(models.TaskInstance, "ti", ti_names, ti_states)
        .where(exists(select(moved_try.c.id)))
        .returning(models.TaskInstance.__table__.c.id)
        .cte("moved_ti")
    )
    counts = [
        select(func.count()).select_from(moved_try).scalar_subquery(),
        select(func.count()).select_from(moved_ti).scalar_subquery(),
    ]
    if notify:
        # A select CTE runs only as far as it is read: counting its column evaluates
        # pg_notify once per instance moved (none or one).
        sent = (
            select(func.pg_notify(bindparam("channel"), bindparam("payload")).label("sent"))
            .select_from(moved_ti)
            .cte("notified")
        )
        counts.append(select(func.count(sent.c.sent)).scalar_subquery())
    return select(*counts)


def _transition(
    session: Session,
    model: Model,
    ids: Collection[int],
    expected: S | Collection[S],
    new: S,
    fields: Mapping[str, object],
) -> list[int]:
    states = _as_states(expected)
    won: list[int] = []
    if any(isinstance(value, ClauseElement) for value in fields.values()):
        # A field computed in SQL (``try_number + 1``): a statement of its own.
        _check_fields(model, tuple(fields))
        table = cast(Table, model.__table__)
        values = {"state": new, **fields}  # updated_at: the column's onupdate
        for chunk in sql.chunks(sorted(set(ids))):
            stmt = (
                update(table)
                .where(table.c.id.in_(chunk), table.c.state.in_(states))
                .values(values)
                .returning(table.c.id)
            )
            won.extend(session.execute(stmt).scalars())
    else:
        names = tuple(sorted(fields))
        params: dict[str, object] = {f"new_{name}": fields[name] for name in names}
        params["new_state"] = new
        params.update((f"expected_{i}", state) for i, state in enumerate(states))
        for chunk in sql.chunks(sorted(set(ids))):
            one = len(chunk) == 1
            stmt = _statement(model, names, len(states), one)
            params["ids"] = chunk[0] if one else list(chunk)
            won.extend(session.execute(stmt, params).scalars())
    if won:
        # Objects this session loaded before may now be stale: reload them on next use.
        session.expire_all()
    return sorted(won)


@functools.cache
def _statement(
    model: Model, names: tuple[str, ...], states: int, one: bool
) -> ReturningUpdate[int]:
    """The transition's ``UPDATE`` for these fields and this many expected states, built
    once with bound parameters: a Core statement (the ORM's bulk-update path costs twice as
    much per call), and one that is not built and hashed again for every call either (this
    is the scheduler's and the execution API's hottest statement)."""
    _check_fields(model, names)  # raises, and caches nothing, for an unknown field
    table = cast(Table, model.__table__)
    ids = (
        table.c.id == bindparam("ids", type_=table.c.id.type)
        if one
        else table.c.id.in_(bindparam("ids", type_=table.c.id.type, expanding=True))
    )
    state = table.c.state
    expected = [bindparam(f"expected_{i}", type_=state.type) for i in range(states)]
    values = {
        name: bindparam(f"new_{name}", type_=table.c[name].type) for name in ("state", *names)
    }
    # updated_at: the column's onupdate.
    return update(table).where(ids, state.in_(expected)).values(values).returning(table.c.id)


def _as_states(expected: S | Collection[S]) -> list[S]:
    if isinstance(expected, enum.Enum):
        return [expected]
    states = list(expected)
    if not states:
        raise ValueError("expected names no state: a transition must say which states it leaves")
    return states


def _check_fields(model: Model, fields: Collection[str]) -> None:
    columns = set(model.__table__.columns.keys()) - {"id", "state"}
    unknown = sorted(set(fields) - columns)
    if unknown:
        raise exceptions.UnknownField(
            f"{model.__tablename__} has no column(s) {', '.join(unknown)} that a transition "
            f"may set; settable: {', '.join(sorted(columns))}"
        )
