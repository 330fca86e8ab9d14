"""A real scheduler and local executor on a real database, the scheduler in a thread of this
process (as ``gnomon scheduler`` runs it, minus the signal handling); on Postgres, optionally
more schedulers beside it, as ``gnomon scheduler`` processes with homes of their own (as on
other machines: they hear of triggers through NOTIFY only)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from gnomon.dagfiles import bag
from gnomon.events import wakeups
from gnomon.executors.local import LocalExecutor
from gnomon.scheduler import creation
from gnomon.scheduler.loop import Scheduler, SchedulerConfig
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import FINISHED_RUN
from gnomon.store import dags, db, jobs, runs, task_instances, tries
from gnomon.store.models import JobType

#: Wraps the scheduler thread's work (e.g. a profiler's ``runcall``).
Runner = Callable[[Callable[[], None]], None]


class BenchError(Exception):
    """A scenario could not be run (a DAG failed to import, a run failed or timed out)."""


@dataclass(frozen=True, slots=True)
class TryRecord:
    task_id: str
    map_index: int
    state: str
    queued_at: datetime | None
    start: datetime
    end: datetime


class Harness:
    def __init__(
        self,
        db_url: str,
        root: Path,
        *,
        parallelism: int,
        poll_interval: float = 1.0,
        extra_schedulers: int = 0,
    ) -> None:
        self.db_url = db_url
        self.root = root
        self.parallelism = parallelism
        self.extra_schedulers = extra_schedulers
        self._extra: list[subprocess.Popen[bytes]] = []
        self.home = root / "home"
        self.dags_folder = root / "dags"
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = db.make_engine(db_url)
        self.sessions: sessionmaker[Session] = db.session_factory(self.engine)
        self.readers: sessionmaker[Session] = db.session_factory(self.engine, read_only=True)
        self.executor = LocalExecutor(
            parallelism=parallelism, db_url=db_url, kill_grace=1.0, xcom_max_bytes=1_048_576
        )
        config = SchedulerConfig(
            home=self.home,
            dags_folder=self.dags_folder,
            logs_folder=self.home / "logs",
            heartbeat_timeout=60.0,
            poll_interval=poll_interval,
            shutdown_grace=5.0,
        )
        self.scheduler = Scheduler(self.sessions, self.executor, config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    # -- DAG files ---------------------------------------------------------------------------
    def write_dag(self, name: str, source: str) -> None:
        (self.dags_folder / f"{name}.py").write_text(source)

    def sync(self) -> None:
        result = bag.parse_folder(self.dags_folder, 60)
        if result.import_errors:
            raise BenchError("; ".join(e.error for e in result.import_errors))
        with self.sessions.begin() as session:
            dags.sync_parse_result(session, result, now=datetime.now(UTC), paused_on_creation=False)
        wakeups.notify(self.home)

    # -- the scheduler -----------------------------------------------------------------------
    def start(self, runner: Runner | None = None) -> None:
        self.scheduler.start()  # starts the warm workers

        def work() -> None:
            self.scheduler.run(self._stop)

        def target() -> None:
            try:
                (runner or _call)(work)
            except BaseException as exc:  # reported by stop() and wait()
                self.error = exc

        self._thread = threading.Thread(target=target, name="scheduler", daemon=True)
        self._thread.start()
        for index in range(self.extra_schedulers):
            self._extra.append(self._spawn_scheduler(index))
        self._wait_for_schedulers(1 + self.extra_schedulers)

    def _spawn_scheduler(self, index: int) -> subprocess.Popen[bytes]:
        home = self.root / f"home-{index + 2}"
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
        env.update(
            GNOMON_HOME=str(home),
            GNOMON_DB_URL=self.db_url,
            GNOMON_PARALLELISM=str(self.parallelism),
            GNOMON_TASK_HEARTBEAT_TIMEOUT="60",
            GNOMON_SHUTDOWN_GRACE="5",
        )
        command = [sys.executable, "-m", "gnomon.cli.main", "scheduler", "--dags-folder"]
        with (self.root / f"scheduler-{index + 2}.log").open("wb") as log:
            return subprocess.Popen(
                [*command, str(self.dags_folder)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_for_schedulers(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self.readers() as session:
                running = len(
                    jobs.alive(session, JobType.SCHEDULER, datetime.min.replace(tzinfo=UTC))
                )
            if running >= count:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"only {running} of {count} schedulers started in {timeout}s")
            time.sleep(0.05)

    @property
    def scheduler_tid(self) -> int | None:
        """The scheduler thread's id in the kernel (for its CPU time)."""
        return self._thread.native_id if self._thread is not None else None

    def stop(self) -> None:
        for process in self._extra:
            process.send_signal(signal.SIGINT)
        for process in self._extra:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._extra.clear()
        self._stop.set()
        wakeups.notify(self.home)
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        self.engine.dispose()
        if self.error is not None:
            raise BenchError(f"the scheduler failed: {self.error!r}") from self.error

    def database_server_pids(self) -> list[int]:
        """Postgres: the server processes serving this database's connections (the
        scheduler's pool among them), for their CPU time. SQLite runs in this process."""
        if self.engine.dialect.name != "postgresql":
            return []
        with self.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            ).all()
        return [int(pid) for (pid,) in rows]

    # -- runs --------------------------------------------------------------------------------
    def trigger(self, dag_id: str) -> tuple[int, datetime]:
        """Trigger a manual run; its pk and the moment it was committed."""
        with self.sessions.begin() as session:
            run = creation.trigger(session, VersionCache(), dag_id, now=datetime.now(UTC))
            wakeups.announce(session)  # the other schedulers, at the commit (Postgres)
        committed = datetime.now(UTC)
        wakeups.notify(self.home)
        return run.id, committed

    def wait(self, run_pk: int, timeout: float) -> runs.Run:
        deadline = time.monotonic() + timeout
        while True:
            with self.readers() as session:
                run = runs.get_by_pk(session, run_pk)
            assert run is not None
            if run.state in FINISHED_RUN:
                return run
            if self.error is not None:
                raise BenchError(f"the scheduler failed: {self.error!r}") from self.error
            if time.monotonic() > deadline:
                raise BenchError(f"run {run.run_id} still {run.state.value} after {timeout}s")
            time.sleep(0.02)

    def tries_of(self, run_pk: int) -> list[TryRecord]:
        """The finished tries of the run, with their instance's ``queued_at``."""
        with self.readers() as session:
            return try_records(session, run_pk)


def try_records(session: Session, run_pk: int) -> list[TryRecord]:
    """The finished tries of the run, with their instance's ``queued_at``."""
    tis = {ti.id: ti for ti in task_instances.of_run(session, run_pk)}
    records = []
    for ti_id, attempts in tries.of_instances(session, list(tis)).items():
        ti = tis[ti_id]
        for attempt in attempts:
            if attempt.start_date is None or attempt.end_date is None:
                continue
            records.append(
                TryRecord(
                    ti.task_id,
                    ti.map_index,
                    attempt.state.value,
                    ti.queued_at,
                    _utc(attempt.start_date),
                    _utc(attempt.end_date),
                )
            )
    return records


def _call(work: Callable[[], None]) -> None:
    work()


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
