"""Claims between schedulers on Postgres: what one transaction holds, another passes over
(``SKIP LOCKED``) or, for queueing, waits its turn for (the advisory lock)."""

from __future__ import annotations

import select as selecting
from collections.abc import Callable
from datetime import timedelta

import pytest
from scheduler_seeds import NOW, queuer, schedule, trigger, wide_dag
from sqlalchemy import select
from support.orchestrator import Orchestrator
from support.processes import wait_for

from gnomon.scheduler import advance, creation
from gnomon.scheduler.loop import Scheduler
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import RunState, TaskState
from gnomon.store import locks, models, pools, runs

pytestmark = pytest.mark.parametrize("backend", ["postgres"])


def test_a_run_another_transaction_holds_is_passed_over_and_reported_held(
    orchestrator: Orchestrator,
) -> None:
    wide_dag(orchestrator)
    first, second = schedule(orchestrator.sessions, 2)
    with orchestrator.sessions.begin() as holder:
        held_runs, _ = runs.claim(holder, [first])
        assert [r.id for r in held_runs] == [first]
        with orchestrator.sessions.begin() as other:
            claimed, held = runs.claim(other, [first, second])
            assert ([r.id for r in claimed], held) == ([second], {first})
    with orchestrator.sessions.begin() as other:
        claimed, held = runs.claim(other, [first, second])
        assert ([r.id for r in claimed], held) == ([first, second], set())


def test_while_one_scheduler_queues_another_queues_nothing_and_a_one_slot_pool_holds_one(
    orchestrator: Orchestrator,
) -> None:
    with orchestrator.sessions.begin() as session:
        pools.upsert(session, "single", 1)
    wide_dag(orchestrator, width=2, pool="single")
    schedule(orchestrator.sessions)
    cache = VersionCache()
    with orchestrator.sessions.begin() as first:
        assert len(queuer(orchestrator).queue(first, cache, 4, NOW).workloads) == 1
        with orchestrator.sessions.begin() as second:
            # Counting now would miss the first's uncommitted queueing and fill the slot again.
            queued = queuer(orchestrator).queue(second, cache, 4, NOW)
            assert (queued.workloads, queued.contended) == ([], True)
    with orchestrator.sessions.begin() as second:
        queued = queuer(orchestrator).queue(second, cache, 4, NOW)
        assert (queued.workloads, queued.contended) == ([], False)  # the pool is full
    with orchestrator.sessions() as session:
        states = session.scalars(select(models.TaskInstance.state)).all()
    assert sorted(states) == [TaskState.QUEUED, TaskState.SCHEDULED]


def test_queued_runs_of_a_dag_another_transaction_holds_wait_for_the_next_try(
    orchestrator: Orchestrator,
) -> None:
    wide_dag(orchestrator, max_runs=1)
    trigger(orchestrator.sessions, 2)
    with orchestrator.sessions.begin() as holder:
        assert locks.claim_dags(holder, ["wide"]) == {"wide"}
        with orchestrator.sessions.begin() as other:
            started = advance.start_queued_runs(other, NOW)
        assert (started.runs, started.contended) == ([], True)
    with orchestrator.sessions.begin() as other:
        started = advance.start_queued_runs(other, NOW)
    assert (len(started.runs), started.contended) == (1, False)  # max_active_runs=1


DAILY = """
from datetime import datetime, timedelta
from gnomon import DAG
from gnomon.operators.python import PythonOperator

with DAG("daily", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False):
    PythonOperator(task_id="t", python_callable=print)
"""


def test_no_scheduled_run_is_created_for_a_dag_another_transaction_holds(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.write_dag("daily", DAILY)
    orchestrator.sync()
    with orchestrator.sessions.begin() as holder:
        locks.claim_dags(holder, ["daily"])
        with orchestrator.sessions.begin() as other:
            due = creation.create_due_runs(other, VersionCache(), NOW)
            assert due.contended
            assert runs.of_dag(other, "daily") == []
    with orchestrator.sessions.begin() as other:
        due = creation.create_due_runs(other, VersionCache(), NOW)
        assert not due.contended
        assert due.next_due is not None and due.next_due <= NOW + timedelta(days=1)
        assert [r.state for r in runs.of_dag(other, "daily")] == [RunState.QUEUED]


CHAIN = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.python import PythonOperator

with DAG("pair", schedule=None, start_date=datetime(2024, 1, 1)):
    PythonOperator(task_id="first", python_callable=print) >> PythonOperator(
        task_id="second", python_callable=print
    )
"""


def _states(orchestrator: Orchestrator) -> dict[str, TaskState]:
    with orchestrator.sessions() as session:
        rows = session.execute(select(models.TaskInstance.task_id, models.TaskInstance.state))
        return {task_id: state for task_id, state in rows}


def _passes_until(scheduler: Scheduler, condition: Callable[[], bool]) -> None:
    """Run passes (waiting on the executor's pipes in between) until ``condition`` holds."""

    def one_more() -> bool:
        scheduler.run_pass()
        if condition():
            return True
        selecting.select(scheduler.executor.fileno_list(), [], [], 0.05)
        return False

    wait_for(one_more, timeout=30)


def test_a_run_another_scheduler_holds_is_planned_by_the_next_pass_once_released(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.write_dag("pair", CHAIN)
    orchestrator.sync()
    scheduler = orchestrator.scheduler
    scheduler.start()
    try:
        run_id = orchestrator.trigger("pair")
        sent = (TaskState.QUEUED, TaskState.RUNNING, TaskState.SUCCESS)
        _passes_until(scheduler, lambda: _states(orchestrator)["first"] in sent)
        with orchestrator.sessions.begin() as holder:
            run = runs.get(holder, "pair", run_id)
            assert run is not None
            runs.claim(holder, [run.id])  # another scheduler is planning the run
            _passes_until(scheduler, lambda: _states(orchestrator)["first"] is TaskState.SUCCESS)
            scheduler.run_pass()
            assert _states(orchestrator)["second"] is TaskState.NONE  # not planned: held
        scheduler.run_pass()  # the very next pass, no wake-up, no poll
        assert _states(orchestrator)["second"] in (TaskState.SCHEDULED, TaskState.QUEUED)
    finally:
        scheduler.shutdown()
