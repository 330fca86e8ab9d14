"""Building blocks for tests of claims and adoption: a DAG whose instances are scheduled, and
queueing them as a given scheduler job would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from support.orchestrator import Orchestrator

from gnomon.executors.base import Workload
from gnomon.scheduler import advance, creation, queueing
from gnomon.scheduler.versions import VersionCache
from gnomon.store import runs

WIDE = """
from datetime import datetime, timedelta
from gnomon import DAG
from gnomon.operators.python import PythonOperator

with DAG("wide", schedule=None, start_date=datetime(2024, 1, 1), max_active_runs={max_runs},
         default_args={{"retries": 1, "retry_delay": timedelta(seconds=0), "pool": {pool!r}}}):
    for i in range({width}):
        PythonOperator(task_id=f"t{{i}}", python_callable=print)
"""

NOW = datetime.now(UTC)


def wide_dag(
    orchestrator: Orchestrator, *, width: int = 3, pool: str = "default_pool", max_runs: int = 16
) -> None:
    orchestrator.write_dag("wide", WIDE.format(width=width, pool=pool, max_runs=max_runs))
    orchestrator.sync()


def trigger(sessions: sessionmaker[Session], count: int = 1) -> list[int]:
    """Queued runs of ``wide``; their pks."""
    with sessions.begin() as session:
        return [
            creation.trigger(
                session,
                VersionCache(),
                "wide",
                now=NOW,
                logical_date=NOW - timedelta(days=i),
                run_id=f"r{i}",
            ).id
            for i in range(count)
        ]


def schedule(sessions: sessionmaker[Session], count: int = 1) -> list[int]:
    """Running runs of ``wide`` with every instance scheduled; their pks."""
    pks = trigger(sessions, count)
    with sessions.begin() as session:
        advance.start_queued_runs(session, NOW)
        for run_pk in pks:
            run = runs.get_by_pk(session, run_pk)
            assert run is not None
            advance.advance(session, VersionCache(), run, NOW)
    return pks


def queuer(orchestrator: Orchestrator, job_id: int | None = None) -> queueing.Queuer:
    home = orchestrator.home
    return queueing.Queuer(queueing.QueueContext(job_id, home / "logs", orchestrator.dags_folder))


def queue_all(
    orchestrator: Orchestrator, job_id: int | None, slots: int = 100, at: datetime = NOW
) -> list[Workload]:
    with orchestrator.sessions.begin() as session:
        return queuer(orchestrator, job_id).queue(session, VersionCache(), slots, at).workloads
