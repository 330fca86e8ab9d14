"""Runs created from schedules, backfills and pauses; max_active_runs and pools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session
from support.orchestrator import Orchestrator, max_overlap, try_intervals
from support.processes import wait_for

from gnomon.semantics.states import RunState
from gnomon.store import pools

DAILY = """
import time
from datetime import datetime
from gnomon import DAG, task

with DAG(
    "daily",
    schedule="@daily",
    start_date=datetime.fromisoformat("{start}"),
    catchup={catchup},
    max_active_runs={max_active_runs},
) as dag:
    @task
    def work():
        time.sleep({sleep})

    work()
"""


def _midnight(days_ago: int) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def _daily(catchup: bool, max_active_runs: int = 16, sleep: float = 0.0) -> str:
    return DAILY.format(
        start=_midnight(3).isoformat(),
        catchup=catchup,
        max_active_runs=max_active_runs,
        sleep=sleep,
    )


def _all_finished(orchestrator: Orchestrator, dag_id: str, count: int) -> bool:
    found = orchestrator.runs_of(dag_id)
    return len(found) >= count and all(
        r.state in (RunState.SUCCESS, RunState.FAILED) for r in found
    )


def test_catchup_creates_a_run_for_every_missed_interval(orchestrator: Orchestrator) -> None:
    orchestrator.write_dag("daily", _daily(catchup=True))
    orchestrator.sync()
    orchestrator.start()
    wait_for(lambda: _all_finished(orchestrator, "daily", 3), timeout=60)
    found = orchestrator.runs_of("daily")
    assert [r.logical_date for r in found] == [_midnight(3), _midnight(2), _midnight(1)]
    assert [r.data_interval_end for r in found] == [_midnight(2), _midnight(1), _midnight(0)]
    assert all(r.state is RunState.SUCCESS and r.run_type.value == "scheduled" for r in found)


def test_without_catchup_only_the_latest_interval_runs(orchestrator: Orchestrator) -> None:
    orchestrator.write_dag("daily", _daily(catchup=False))
    orchestrator.sync()
    orchestrator.start()
    wait_for(lambda: _all_finished(orchestrator, "daily", 1), timeout=60)
    found = orchestrator.runs_of("daily")
    assert [r.logical_date for r in found] == [_midnight(1)]


def test_max_active_runs_keeps_runs_of_a_dag_from_overlapping(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.write_dag("daily", _daily(catchup=True, max_active_runs=1, sleep=0.3))
    orchestrator.sync()
    orchestrator.start()
    wait_for(lambda: _all_finished(orchestrator, "daily", 3), timeout=60)
    found = orchestrator.runs_of("daily")
    assert len(found) == 3
    spans = [(r.start_date, r.end_date) for r in found]
    assert all(start is not None and end is not None for start, end in spans)
    assert max_overlap(spans) == 1  # type: ignore[arg-type]


def test_a_paused_dag_gets_no_scheduled_runs_but_a_trigger_still_runs(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.write_dag("daily", _daily(catchup=True))
    orchestrator.sync(paused=True)
    orchestrator.start()
    run_id = orchestrator.trigger("daily")
    assert orchestrator.wait_run("daily", run_id) is RunState.SUCCESS
    # A pass that would have created the three missed runs has happened by now.
    assert [r.run_id for r in orchestrator.runs_of("daily")] == [run_id]


def test_a_backfill_runs_every_interval_between_its_dates(orchestrator: Orchestrator) -> None:
    orchestrator.write_dag("daily", _daily(catchup=False))
    orchestrator.sync(paused=True)
    orchestrator.start()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    orchestrator.write_dag(
        "daily", _daily(catchup=False).replace(_midnight(3).isoformat(), start.isoformat())
    )
    orchestrator.sync(paused=True)
    run_ids = orchestrator.backfill("daily", start, start + timedelta(days=2))
    assert len(run_ids) == 3
    for run_id in run_ids:
        assert orchestrator.wait_run("daily", run_id) is RunState.SUCCESS
    found = orchestrator.runs_of("daily")
    assert [r.logical_date for r in found] == [start + timedelta(days=d) for d in range(3)]
    assert {r.run_type.value for r in found} == {"backfill"}


POOLED = """
import time
from datetime import datetime
from gnomon import DAG
from gnomon.operators.python import PythonOperator

with DAG("pooled", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    for i in range(6):
        PythonOperator(
            task_id=f"t{i}", python_callable=lambda: time.sleep(0.4), pool="tiny"
        )
"""


def test_a_pool_limits_how_many_tasks_run_at_once(orchestrator: Orchestrator) -> None:
    with orchestrator.sessions.begin() as session:
        _set_pool(session, "tiny", 2)
    orchestrator.write_dag("pooled", POOLED)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("pooled")
    assert orchestrator.wait_run("pooled", run_id) is RunState.SUCCESS
    # Four warm processes could run four at once; the pool allows two.
    assert max_overlap(try_intervals(orchestrator.report("pooled", run_id))) == 2


def _set_pool(session: Session, name: str, slots: int) -> None:
    pools.upsert(session, name, slots)
