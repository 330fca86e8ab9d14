"""The scheduler loop: one transaction per pass, woken by events, with a slow poll behind.

Each pass applies what the executor reported, creates and starts runs, plans the runs that
changed, queues what may run, and hands it to the executor after the commit. Between passes
it ``select``s on the executor's pipes and the wake-up socket, so a finished try or a trigger
starts the next pass at once; timers (the next scheduled run, a retry, heartbeats, the zombie
sweep, the fallback poll) bound the wait.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from gnomon import metrics
from gnomon.events import wakeups
from gnomon.executors.base import Event, Executor, TryEnded, TryStarted
from gnomon.scheduler import advance, creation, outcomes, queueing
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import RunState, TaskState
from gnomon.store import jobs, runs, task_instances, transitions, tries
from gnomon.store.exceptions import DatabaseLocked, DatabaseUnavailable
from gnomon.store.models import JobState, JobType

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    home: Path
    dags_folder: Path
    logs_folder: Path
    heartbeat_timeout: float
    poll_interval: float
    shutdown_grace: float
    kill_grace: float = 5.0
    job_type: JobType = JobType.SCHEDULER

    @property
    def heartbeat_interval(self) -> float:
        return min(max(self.heartbeat_timeout / 4, 0.2), 5.0)

    @property
    def zombie_interval(self) -> float:
        return min(max(self.heartbeat_timeout / 2, 0.5), 10.0)


def _now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        executor: Executor,
        config: SchedulerConfig,
    ) -> None:
        self.sessions = sessions
        self.executor = executor
        self.config = config
        self.cache = VersionCache()
        self.job_id: int | None = None
        self.queuer: queueing.Queuer | None = None
        self.listener: wakeups.Listener | None = None
        self._dirty: set[int] = set()
        self._sweep = True  # plan every running run (start, wake-ups, fallback poll)
        self._create_runs = True
        self._next_creation: datetime | None = None
        self._start_runs = True
        self._next_retry: datetime | None = None
        self._retries_changed = True
        self._pending: list[Event] = []
        self._next_poll = 0.0
        self._next_heartbeat = 0.0
        self._next_zombie_check = 0.0
        self.passes = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        now = _now()
        with self.sessions.begin() as session:
            _end_dead_local_jobs(session, now)
            self.job_id = jobs.start(
                session, self.config.job_type, socket.gethostname(), os.getpid(), now
            )
        self.queuer = queueing.Queuer(
            queueing.QueueContext(self.job_id, self.config.logs_folder, self.config.dags_folder)
        )
        self.listener = wakeups.Listener(self.config.home)
        self.executor.start()
        with self.sessions.begin() as session:
            cutoff = now - timedelta(seconds=self.config.heartbeat_timeout)
            live = [
                job.id
                for kind in (JobType.SCHEDULER, JobType.STANDALONE)
                for job in jobs.alive(session, kind, cutoff)
            ]
            self._dirty.update(outcomes.reset_orphans(session, self.cache, live, now))

    def run(self, stop: threading.Event) -> None:
        """Run passes until ``stop`` is set, then stop the executor (tries get
        ``shutdown_grace`` seconds) and record the job's end."""
        if self.job_id is None:
            self.start()
        try:
            while not stop.is_set():
                try:
                    self.run_pass()
                except (DatabaseUnavailable, DatabaseLocked) as exc:
                    # The pass rolled back (its events stay pending); a later pass redoes it.
                    log.warning("scheduler pass failed, retrying in 1s: %s", exc)
                    stop.wait(1.0)
                    self._everything_may_have_changed()
                    continue
                self._wait(stop)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        events = self.executor.stop(self.config.shutdown_grace)
        now = _now()
        with self.sessions.begin() as session:
            self._apply(session, events, now)
            if self.job_id is not None:
                jobs.end(session, self.job_id, JobState.SUCCESS, now)
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    # -- one pass ----------------------------------------------------------------------------
    def run_pass(self) -> None:
        assert self.queuer is not None
        now = _now()
        monotonic = time.monotonic()
        # Events stay pending until the pass that applies them commits: a pass that fails
        # (the database went away) applies them again next time.
        events = self._pending = self._pending + self.executor.collect()
        if events and self._only_starts(events, now, monotonic):
            # A try's start changes nothing the scheduler decides on: it is recorded with the
            # next pass that has work, at the latest with the next heartbeat.
            return
        self.passes += 1
        with metrics.SCHEDULER_LOOP_SECONDS.time(), self.sessions.begin() as session:
            self._apply(session, events, now)
            if self._create_runs or (self._next_creation and self._next_creation <= now):
                self._create_runs = False
                self._start_runs = True
                self._next_creation = creation.create_due_runs(session, self.cache, now)
            if self._start_runs:
                self._start_runs = False
                for run in advance.start_queued_runs(session, now):
                    self._dirty.add(run.id)
            if self._next_retry is not None and self._next_retry <= now:
                due = task_instances.due_retries(session, now)
                won = transitions.set_ti_states(
                    session, due, expected=TaskState.UP_FOR_RETRY, new=TaskState.SCHEDULED
                )
                self._dirty.update(due[ti_id] for ti_id in won)
                self._retries_changed = True
            if monotonic >= self._next_zombie_check:
                self._next_zombie_check = monotonic + self.config.zombie_interval
                self._dirty.update(
                    outcomes.reap_zombies(session, self.cache, self.config.heartbeat_timeout, now)
                )
                self._backstop_timeouts(session, now)
            self._advance(session, now)
            workloads = self.queuer.queue(session, self.cache, self.executor.open_slots, now)
            if monotonic >= self._next_heartbeat:
                self._next_heartbeat = monotonic + self.config.heartbeat_interval
                tries.heartbeat(session, self.executor.running_try_ids(), now)
                if self.job_id is not None:
                    jobs.heartbeat(session, self.job_id, now)
            if self._retries_changed:
                self._retries_changed = False
                self._next_retry = task_instances.next_retry_at(session)
        self._pending = []
        for workload in workloads:
            self.executor.submit(workload)

    def _only_starts(self, events: list[Event], now: datetime, monotonic: float) -> bool:
        """True if ``events`` are all try starts and nothing else asks for a pass now."""
        return (
            all(isinstance(e, TryStarted) for e in events)
            and not (self._dirty or self._sweep or self._create_runs or self._start_runs)
            and not (self._next_creation and self._next_creation <= now)
            and not (self._next_retry and self._next_retry <= now)
            and monotonic < min(self._next_heartbeat, self._next_zombie_check)
        )

    def _backstop_timeouts(self, session: Session, now: datetime) -> None:
        """Fail and kill tries that outlived their execution_timeout, its kill grace and a
        heartbeat timeout: the runtime enforces timeouts, this catches what slips past it."""
        margin = self.config.kill_grace + self.config.heartbeat_timeout
        for attempt, reason in outcomes.overdue(session, self.cache, margin, now):
            run_pk = outcomes.fail_silent(session, self.cache, attempt, reason, now)
            if run_pk is not None:
                self._dirty.add(run_pk)
                self.executor.kill(attempt.id)

    def _apply(self, session: Session, events: list[Event], now: datetime) -> None:
        for event in events:
            if isinstance(event, TryStarted):
                outcomes.started(session, event, now, self.cache)
            elif isinstance(event, TryEnded):
                run_pk = outcomes.ended(session, self.cache, event)
                if run_pk is not None:
                    self._dirty.add(run_pk)
                if event.outcome.state is TaskState.FAILED:
                    self._retries_changed = True

    def _advance(self, session: Session, now: datetime) -> None:
        if self._sweep:
            self._sweep = False
            self._dirty.update(r.id for r in runs.in_states(session, [RunState.RUNNING]))
        dirty, self._dirty = self._dirty, set()
        for run_pk in sorted(dirty):
            run = runs.get_by_pk(session, run_pk)
            if run is None or run.state is not RunState.RUNNING:
                continue
            state = advance.advance(session, self.cache, run, now)
            if state is not RunState.RUNNING:
                log.info("run %s of %s ended: %s", run.run_id, run.dag_id, state.value)
                self._create_runs = True  # a slot under max_active_runs may have opened
                self._start_runs = True

    # -- waiting -----------------------------------------------------------------------------
    def _wait(self, stop: threading.Event) -> None:
        if self._dirty or self._sweep or self._create_runs or self._start_runs:
            return
        monotonic = time.monotonic()
        if monotonic >= self._next_poll:
            self._next_poll = monotonic + self.config.poll_interval
        deadlines = [self._next_poll, self._next_heartbeat, self._next_zombie_check]
        now = _now()
        if self._next_creation is not None:
            deadlines.append(monotonic + (self._next_creation - now).total_seconds())
        if self._next_retry is not None:
            deadlines.append(monotonic + (self._next_retry - now).total_seconds())
        timeout = max(0.0, min(deadlines) - monotonic)
        fds: list[int] = [*self.executor.fileno_list()]
        if self.listener is not None:
            fds.append(self.listener.fileno())
        if stop.is_set():
            return
        readable, _, _ = select.select(fds, [], [], min(timeout, 1.0))
        if self.listener is not None and self.listener.fileno() in readable:
            self.listener.drain()
            self._everything_may_have_changed()
        if time.monotonic() >= self._next_poll:
            self._everything_may_have_changed()

    def _everything_may_have_changed(self) -> None:
        """A wake-up from outside (a trigger, a clear, a new version) or the fallback poll."""
        self._sweep = True
        self._create_runs = True
        self._start_runs = True
        self._retries_changed = True


def _end_dead_local_jobs(session: Session, now: datetime) -> None:
    """Jobs of this host whose process is gone (killed -9) are ended as failed, so their
    tries are recognised as orphans at once instead of after the heartbeat timeout."""
    hostname = socket.gethostname()
    for job_type in JobType:
        for job in jobs.alive(session, job_type, datetime.min.replace(tzinfo=UTC)):
            if job.hostname == hostname and (job.pid == os.getpid() or not _pid_alive(job.pid)):
                jobs.end(session, job.id, JobState.FAILED, now)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
