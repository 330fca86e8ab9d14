"""What a first try's hand-off latency is measured from: its upstream's latest end
(``stats.UpstreamEnds``), read once per run and upstream when all of it has finished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session
from store_seeds import seed_run

from gnomon.semantics.states import TaskState
from gnomon.store import models, stats

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _end(session: Session, ti_id: int, state: TaskState, at: datetime) -> None:
    session.execute(
        update(models.TaskInstance)
        .where(models.TaskInstance.id == ti_id)
        .values(state=state, end_date=at)
    )
    session.commit()


def _reads(engine: Engine) -> list[str]:
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "task_instances" in statement:  # not the BEGIN SQLite's sessions send
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen


def test_the_latest_end_is_read_again_until_every_upstream_instance_finished(
    engine: Engine, session: Session
) -> None:
    run = seed_run(session, TaskState.RUNNING, TaskState.RUNNING)
    first, second = run.ti_ids
    ends = stats.UpstreamEnds()
    upstream = ["task_0", "task_1"]
    _end(session, first, TaskState.SUCCESS, T0)
    assert ends.latest(session, run.run_pk, upstream) == T0
    _end(session, second, TaskState.SUCCESS, T0 + timedelta(seconds=5))
    # Not kept while task_1 ran: its end is seen.
    assert ends.latest(session, run.run_pk, upstream) == T0 + timedelta(seconds=5)


def test_once_every_upstream_instance_finished_its_latest_end_is_kept(
    engine: Engine, session: Session
) -> None:
    run = seed_run(session, TaskState.SUCCESS, TaskState.SKIPPED, TaskState.RUNNING)
    first, second, _ = run.ti_ids
    _end(session, first, TaskState.SUCCESS, T0)
    _end(session, second, TaskState.SKIPPED, T0 + timedelta(seconds=1))
    ends = stats.UpstreamEnds()
    reads = _reads(engine)
    starts = [ends.latest(session, run.run_pk, ["task_1", "task_0"]) for _ in range(50)]
    assert starts == [T0 + timedelta(seconds=1)] * 50
    assert len(reads) == 1  # a thousand-task fan-out reads its upstream's end once
    # Another upstream (task_2 still runs) is its own entry, and read each time.
    ends.latest(session, run.run_pk, ["task_2"])
    ends.latest(session, run.run_pk, ["task_2"])
    assert len(reads) == 3


def test_the_kept_ends_are_bounded(engine: Engine, session: Session) -> None:
    run = seed_run(session, TaskState.SUCCESS)
    _end(session, run.ti_ids[0], TaskState.SUCCESS, T0)
    ends = stats.UpstreamEnds(size=4)
    for pk in range(run.run_pk, run.run_pk + 10):
        ends.latest(session, pk, ["task_0"])  # other runs: no instances, nothing unfinished
    assert len(ends._ends) <= 4
    assert ends.latest(session, run.run_pk + 9, ["task_0"]) is None
