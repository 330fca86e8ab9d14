"""Queueing within the limits: instances that cannot fit are not what a pass reads."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from conftest import MakeOrchestrator
from scheduler_seeds import NOW, queuer, schedule, wide_dag
from sqlalchemy import func, select
from support.orchestrator import Orchestrator
from support.remote import BrokerExecutor

from gnomon.scheduler import advance, creation
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import TaskState
from gnomon.store import models, pools, runs

LONE = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.python import PythonOperator

with DAG("lone", schedule=None, start_date=datetime(2024, 1, 1)):
    PythonOperator(task_id="only", python_callable=print)
"""


BUSY = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.python import PythonOperator

with DAG("wide", schedule=None, start_date=datetime(2024, 1, 1), max_active_tasks=1):
    for i in range(40):
        PythonOperator(task_id=f"t{i}", python_callable=print)
"""


@pytest.mark.parametrize("limit", ["pool", "max_active_tasks"])
def test_many_instances_that_cannot_fit_do_not_keep_another_dags_instance_waiting(
    orchestrator: Orchestrator, limit: str
) -> None:
    # 40 instances that one at a time may run (a one-slot pool, or max_active_tasks=1) come
    # first in queueing order (older run, lower ids), more than a pass reads for 4 slots.
    if limit == "pool":
        with orchestrator.sessions.begin() as session:
            pools.upsert(session, "single", 1)
        wide_dag(orchestrator, width=40, pool="single")
    else:
        orchestrator.write_dag("wide", BUSY)
        orchestrator.sync()
    schedule(orchestrator.sessions)
    orchestrator.write_dag("lone", LONE)
    orchestrator.sync()
    with orchestrator.sessions.begin() as session:
        run = creation.trigger(
            session, VersionCache(), "lone", now=NOW, logical_date=NOW + timedelta(days=1)
        )
        advance.start_queued_runs(session, NOW)
        found = runs.get_by_pk(session, run.id)
        assert found is not None
        advance.advance(session, VersionCache(), found, NOW)

    with orchestrator.sessions.begin() as session:
        first = queuer(orchestrator).queue(session, VersionCache(), 4, NOW).workloads
    with orchestrator.sessions.begin() as session:
        second = queuer(orchestrator).queue(session, VersionCache(), 4, NOW).workloads

    queued = [w.request.dag_id for w in first + second]
    assert sorted(queued) == ["lone", "wide"]  # one that fits, and the other DAG's
    with orchestrator.sessions() as session:
        rows = session.execute(
            select(models.TaskInstance.dag_id, models.TaskInstance.state).where(
                models.TaskInstance.state == TaskState.QUEUED
            )
        ).all()
    assert sorted(dag_id for dag_id, _ in rows) == ["lone", "wide"]


class _RecordingStop(threading.Event):
    """A stop event that records the waits asked of it instead of waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return False


@pytest.mark.parametrize(
    ("remote", "threshold", "spaced"),
    [(True, 3, True), (True, 6, False), (False, 3, False)],
    ids=["broker-backlog", "broker-below-threshold", "local-executor"],
)
def test_a_brokers_backlog_spaces_out_the_passes(
    make_orchestrator: MakeOrchestrator,
    broker: BrokerExecutor,
    remote: bool,
    threshold: int,
    spaced: bool,
) -> None:
    orchestrator = make_orchestrator(**({"executor": broker} if remote else {}))
    scheduler = orchestrator.scheduler
    scheduler.config = dataclasses.replace(
        orchestrator.config, backlog_threshold=threshold, backlog_pass_interval=30.0
    )
    wide_dag(orchestrator, width=5)
    schedule(orchestrator.sessions)
    scheduler.start()
    try:
        scheduler.run_pass()  # queues the 5 instances: 5 tries wait to be started
        stop = _RecordingStop()
        scheduler._wait(stop)
    finally:
        scheduler.shutdown()

    with orchestrator.sessions() as session:
        queued = session.scalar(
            select(func.count()).where(models.TaskInstance.state == TaskState.QUEUED)
        )
    if remote:
        assert queued == 5
    waited = [t for t in stop.waits if t is not None and t > 1.0]
    if spaced:
        # The next pass waits out the interval from the start of this one.
        assert len(waited) == 1 and 29.0 < waited[0] <= 30.0
    else:
        assert waited == []
