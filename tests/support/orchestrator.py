"""A real scheduler and local executor on a real database, in a thread of the test process."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gnomon.dag_processor.processor import DagProcessor, ProcessorReport
from gnomon.dagfiles import bag
from gnomon.events import wakeups
from gnomon.executors.base import Executor
from gnomon.executors.local import LocalExecutor
from gnomon.scheduler import clearing, creation
from gnomon.scheduler.loop import Scheduler, SchedulerConfig
from gnomon.scheduler.reports import run_report
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.planning import TIKey
from gnomon.semantics.states import FINISHED_RUN, RunState
from gnomon.store import dags, db, runs, xcoms
from support.processes import eventually


class Orchestrator:
    def __init__(
        self,
        db_url: str,
        root: Path,
        *,
        parallelism: int = 4,
        heartbeat_timeout: float = 30.0,
        poll_interval: float = 1.0,
        shutdown_grace: float = 5.0,
        xcom_max_bytes: int = 1_048_576,
        executor: Executor | None = None,
        log_url: str | None = None,
        log_storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.db_url = db_url
        self.home = root / "home"
        self.dags_folder = root / "dags"
        self.home.mkdir(exist_ok=True)
        self.dags_folder.mkdir(exist_ok=True)
        self.engine: Engine = db.make_engine(db_url)
        self.sessions: sessionmaker[Session] = db.session_factory(self.engine)
        self.executor: Executor = executor or LocalExecutor(
            parallelism=parallelism,
            db_url=db_url,
            kill_grace=1.0,
            xcom_max_bytes=xcom_max_bytes,
            logs_folder=self.home / "logs",
            log_url=log_url,
            log_storage_options=log_storage_options,
        )
        self.config = SchedulerConfig(
            home=self.home,
            dags_folder=self.dags_folder,
            logs_folder=self.home / "logs",
            heartbeat_timeout=heartbeat_timeout,
            poll_interval=poll_interval,
            shutdown_grace=shutdown_grace,
        )
        self.scheduler = Scheduler(self.sessions, self.executor, self.config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._processor: DagProcessor | None = None
        self.error: BaseException | None = None

    # -- DAG files ---------------------------------------------------------------------------
    def write_dag(self, name: str, source: str) -> Path:
        path = self.dags_folder / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    def sync(self, *, paused: bool = False) -> dags.SyncReport:
        result = bag.parse_folder(self.dags_folder, 30)
        assert not result.import_errors, [e.error for e in result.import_errors]
        with self.sessions.begin() as session:
            report = dags.sync_parse_result(
                session, result, now=datetime.now(UTC), paused_on_creation=paused
            )
        wakeups.notify(self.home)
        return report

    def process(self) -> ProcessorReport:
        """A pass of the DAG processor over the folder (one processor, kept across calls as a
        running one is): unlike ``sync``, its versions have bundles."""
        if self._processor is None:
            self._processor = DagProcessor(
                self.dags_folder,
                self.sessions,
                home=self.home,
                file_timeout=30,
                interval=1,
                paused_on_creation=False,
            )
        report = self._processor.run_once()
        assert not report.import_errors, [e.error for e in report.import_errors]
        return report

    # -- the scheduler -----------------------------------------------------------------------
    def start(self) -> Orchestrator:
        self.scheduler.start()

        def target() -> None:
            try:
                self.scheduler.run(self._stop)
            except BaseException as exc:  # surfaced by stop()
                self.error = exc

        self._thread = threading.Thread(target=target, name="scheduler", daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None

    def stop(self) -> None:
        self._stop.set()
        wakeups.notify(self.home)
        if self._thread is not None:
            self._thread.join(timeout=60)
            assert not self._thread.is_alive(), "the scheduler did not stop"
            self._thread = None
        self.engine.dispose()
        if self.error is not None:
            raise self.error

    # -- acting and observing ----------------------------------------------------------------
    def trigger(
        self,
        dag_id: str,
        conf: Mapping[str, Any] | None = None,
        *,
        logical_date: datetime | None = None,
    ) -> str:
        with self.sessions.begin() as session:
            run = creation.trigger(
                session,
                VersionCache(),
                dag_id,
                now=datetime.now(UTC),
                conf=conf,
                logical_date=logical_date,
            )
        wakeups.notify(self.home)
        return run.run_id

    def backfill(self, dag_id: str, start: datetime, end: datetime) -> list[str]:
        with self.sessions.begin() as session:
            plan = creation.backfill(
                session, VersionCache(), dag_id, start=start, end=end, now=datetime.now(UTC)
            )
        wakeups.notify(self.home)
        return plan.run_ids

    def clear(self, dag_id: str, run_id: str, **options: Any) -> list[TIKey]:
        with self.sessions.begin() as session:
            run = runs.get(session, dag_id, run_id)
            assert run is not None
            cleared = clearing.clear(session, VersionCache(), run, now=datetime.now(UTC), **options)
        wakeups.notify(self.home)
        return cleared

    def run_state(self, dag_id: str, run_id: str) -> RunState:
        with self.sessions() as session:
            run = runs.get(session, dag_id, run_id)
            assert run is not None
            return run.state

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 60.0) -> RunState:
        finished = eventually(lambda: self.run_state(dag_id, run_id) in FINISHED_RUN, timeout)
        assert self.error is None, self.error
        assert finished, f"run {run_id} of {dag_id} still {self.run_state(dag_id, run_id)}"
        return self.run_state(dag_id, run_id)

    def report(self, dag_id: str, run_id: str) -> dict[str, Any]:
        with self.sessions() as session:
            run = runs.get(session, dag_id, run_id)
            assert run is not None
            return run_report(session, run)

    def runs_of(self, dag_id: str) -> list[runs.Run]:
        with self.sessions() as session:
            return list(reversed(runs.of_dag(session, dag_id)))

    def task(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        report = self.report(dag_id, run_id)
        return next(
            t for t in report["tasks"] if t["task_id"] == task_id and t["map_index"] == map_index
        )

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        with self.sessions() as session:
            run = runs.get(session, dag_id, run_id)
            assert run is not None
            return xcoms.pull(session, run.id, task_id, key).get(map_index)


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one instant."""
    events = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        key=lambda e: (e[0], e[1]),
    )
    open_now = best = 0
    for _, delta in events:
        open_now += delta
        best = max(best, open_now)
    return best


def try_intervals(report: Mapping[str, Any]) -> list[tuple[datetime, datetime]]:
    return [
        (datetime.fromisoformat(t["start_date"]), datetime.fromisoformat(t["end_date"]))
        for task in report["tasks"]
        for t in task["tries"]
        if t["start_date"] and t["end_date"]
    ]
