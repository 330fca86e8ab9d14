"""The scheduler loop: one transaction per pass, woken by events, with a slow poll behind.

Each pass applies what the executor reported, creates and starts runs, plans the runs that
changed, queues what may run, and hands it to the executor after the commit. Between passes
it ``select``s on the executor's pipes, the wake-up socket and, on Postgres, its LISTEN
connection, so a finished try or a trigger (from any machine) starts the next pass at once;
timers (the next scheduled run, a retry, heartbeats, the zombie sweep, the fallback poll)
bound the wait.

Several schedulers may run on one Postgres database. What one of them cannot claim in a pass
(a run or DAG another holds, the queueing lock) it retries a few milliseconds later, backing
off while the contention lasts (``store.locks``). A notification that a run changed wakes
every scheduler, but only the run's *owner* plans it: the live schedulers' job ids, sorted,
read with each heartbeat and sweep, and the run's id modulo their number picks one. Without
it, each of them ran a pass for every ended try, the ones that lost the race for the run
backing off and planning it again, for nothing but CPU (that the one planning it needs).
Ownership only decides who reacts first: a sweep (a trigger, the fallback poll, a change
among the live schedulers) plans every running run whoever owns it, so a run whose owner
died waits at most for the poll until the others see its heartbeat stop.
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

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gnomon import metrics
from gnomon.events import notifications, wakeups
from gnomon.executors.base import Event, Executor, TryEnded, TryStarted
from gnomon.scheduler import adoption, advance, creation, outcomes, queueing
from gnomon.scheduler.backoff import Backoff
from gnomon.scheduler.exceptions import DeclaredDead
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import RunState, TaskState
from gnomon.store import db, jobs, runs, stats, task_instances, transitions, tries
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
    #: Seconds a try may stay queued, never started, before it is taken back and its
    #: instance queued again (a message its executor lost).
    task_queued_timeout: float = 600.0
    #: With a broker between scheduler and workers (tries outlive the scheduler): while at
    #: least ``backlog_threshold`` tries wait in it to be started, passes run at most every
    #: ``backlog_pass_interval`` seconds, each handling what ended meanwhile. What a pass
    #: queues then waits behind that backlog anyway, and the workers have plenty to take.
    backlog_threshold: int = 64
    backlog_pass_interval: float = 0.1

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
        self.upstream_ends = stats.UpstreamEnds()
        self.job_id: int | None = None
        self.queuer: queueing.Queuer | None = None
        self.listener: wakeups.Listener | None = None
        self.notifications: notifications.PostgresListener | None = None
        self._dirty: set[int] = set()
        #: The live schedulers' job ids, sorted (``_owns``).
        self._peers: tuple[int, ...] = ()
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
        # What another scheduler held this pass, retried at _retry_at (or any earlier pass).
        self._held_runs: set[int] = set()
        self._held_creation = False
        self._held_start = False
        self._contended = False
        self._left_behind = False  # the last pass had no slot for some scheduled instances
        self._queue_again = False
        self._scheduled_more = False  # this pass made instances scheduled
        self._retry_at: float | None = None
        self._backoff = Backoff()
        # Other schedulers and tries are judged by their heartbeats only once this scheduler
        # could reach the database for a whole heartbeat timeout: after an outage, their
        # heartbeats are late like its own (remote tries' went to an API that had no database).
        self._judge_after = 0.0
        self.passes = 0
        # When the last pass began, and whether the broker's backlog spaces the passes out.
        self._pass_began = 0.0
        self._throttled = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        now = _now()
        with self.sessions.begin() as session:
            adoption.end_dead_local_jobs(session, now)
            self.job_id = jobs.start(
                session,
                self.config.job_type,
                socket.gethostname(),
                os.getpid(),
                now,
                tries_outlive=self.executor.tries_outlive_scheduler,
            )
            engine = session.get_bind()
        self.queuer = queueing.Queuer(
            queueing.QueueContext(self.job_id, self.config.logs_folder, self.config.dags_folder)
        )
        self.listener = wakeups.Listener(self.config.home)
        if isinstance(engine, Engine) and engine.dialect.name == "postgresql":
            self.notifications = notifications.PostgresListener(
                lambda: db.dedicated_connection(engine, application_name="gnomon-wakeups")
            )
        self.executor.start()
        with self.sessions.begin() as session:
            timeout = self.config.heartbeat_timeout
            self._dirty.update(adoption.adopt(session, self.cache, timeout, now))

    def run(self, stop: threading.Event) -> None:
        """Run passes until ``stop`` is set, then stop the executor (tries get
        ``shutdown_grace`` seconds) and record the job's end."""
        if self.job_id is None:
            self.start()
        try:
            while not stop.is_set():
                try:
                    self.run_pass()
                except DatabaseLocked as exc:
                    # Another transaction was in the way (Postgres broke a deadlock, say):
                    # the pass rolled back (its events stay pending) and is redone shortly.
                    log.info("scheduler pass rolled back, retrying: %s", exc)
                    stop.wait(self._backoff.next())
                    self._everything_may_have_changed()
                    continue
                except DatabaseUnavailable as exc:
                    log.warning("scheduler pass failed, retrying in 1s: %s", exc)
                    stop.wait(1.0)
                    self._judge_after = time.monotonic() + self.config.heartbeat_timeout
                    if self.notifications is not None:
                        self.notifications.ignored_pids.clear()
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
                # The others sweep now: the runs this one owned are theirs from here.
                wakeups.announce(session)
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.notifications is not None:
            self.notifications.close()
            self.notifications = None

    # -- one pass ----------------------------------------------------------------------------
    def run_pass(self) -> None:
        assert self.queuer is not None
        now = _now()
        monotonic = time.monotonic()
        self._take_back_held()
        # Events stay pending until the pass that applies them commits: a pass that fails
        # (the database went away) applies them again next time.
        events = self._pending = self._pending + self.executor.collect()
        if all(isinstance(e, TryStarted) for e in events) and self._nothing_due(now, monotonic):
            # Nothing to decide: a wake-up for a run another scheduler owns, or try starts
            # only (a start changes nothing the scheduler decides on: it is recorded with the
            # next pass that has work, at the latest with the next heartbeat).
            return
        self.passes += 1
        self._pass_began = monotonic
        self._scheduled_more = False
        with metrics.SCHEDULER_LOOP_SECONDS.time(), self.sessions.begin() as session:
            self._apply(session, events, now)
            if monotonic >= self._next_heartbeat:
                self._next_heartbeat = monotonic + self.config.heartbeat_interval
                self._heartbeat(session, now)
            if self._create_runs or (self._next_creation and self._next_creation <= now):
                self._create_runs = False
                self._start_runs = True
                due = creation.create_due_runs(session, self.cache, now)
                self._next_creation = due.next_due
                self._held_creation = due.contended
            if self._start_runs:
                self._start_runs = False
                started = advance.start_queued_runs(session, now)
                self._dirty.update(run.id for run in started.runs)
                self._held_start = started.contended
            if self._next_retry is not None and self._next_retry <= now:
                due_retries = task_instances.due_retries(session, now)
                won = transitions.set_ti_states(
                    session, due_retries, expected=TaskState.UP_FOR_RETRY, new=TaskState.SCHEDULED
                )
                self._dirty.update(due_retries[ti_id] for ti_id in won)
                self._scheduled_more = self._scheduled_more or bool(won)
                self._retries_changed = True
            if monotonic >= self._next_zombie_check:
                self._next_zombie_check = monotonic + self.config.zombie_interval
                self._check_silence(session, now, monotonic)
            # The runs claimed (read under their lock) are not read again to queue.
            claimed = self._advance(session, now)
            queued = self.queuer.queue(
                session, self.cache, self.executor.open_slots, now, known_runs=claimed
            )
            if queued.left_behind is not None and self._scheduled_more:
                # Only when this pass added work: others told of earlier work took what
                # they had room for, and each queues more as its own tries end.
                self._announce(session, queued.left_behind)
            if self._retries_changed:
                self._retries_changed = False
                self._next_retry = task_instances.next_retry_at(session)
        self._pending = []
        self._after_commit(queued)

    def _after_commit(self, queued: queueing.Queued) -> None:
        """Note what the pass left to do (contention, a backlog) and hand its tries over."""
        self._throttled = (
            self.executor.tries_outlive_scheduler
            and queued.backlog >= self.config.backlog_threshold
        )
        self._contended = self._contended or queued.contended
        self._left_behind = queued.left_behind is not None
        if self._contended or self._held_creation or self._held_start:
            self._retry_at = time.monotonic() + self._backoff.next()
        else:
            self._backoff.reset()
        for workload in queued.workloads:
            self.executor.submit(workload)

    def _take_back_held(self) -> None:
        """What another scheduler held in the last pass is tried again in this one."""
        self._dirty |= self._held_runs
        self._create_runs = self._create_runs or self._held_creation
        self._start_runs = self._start_runs or self._held_start
        self._held_runs = set()
        # Queueing was held (the lock) or short of slots: queue again whatever woke us.
        self._queue_again = self._contended or self._left_behind
        self._held_creation = self._held_start = self._contended = False
        self._retry_at = None

    def _heartbeat(self, session: Session, now: datetime) -> None:
        running = self.executor.running_try_ids()
        tries.heartbeat(session, running, now)
        for try_id in tries.given_up(session, running) if running else ():
            # An operator marked its instance (or it was failed meanwhile): its late report
            # will lose anyway; stop it now, as a remote worker does when its heartbeat is
            # refused.
            log.info("try %s: its task instance is no longer running: killing it", try_id)
            self.executor.kill(try_id)
        if self.job_id is not None and not jobs.heartbeat(session, self.job_id, now):
            raise DeclaredDead(
                f"scheduler job {self.job_id} was ended by another scheduler, which took over "
                "its tries (its heartbeat was older than GNOMON_TASK_HEARTBEAT_TIMEOUT: was "
                "this process paused, or cut off from the database?); stopping so that no try "
                "runs twice. Start it again."
            )
        self._refresh_peers(session, now)

    def _refresh_peers(self, session: Session, now: datetime) -> None:
        """Read the live schedulers; if they changed, runs changed owners: sweep."""
        since = now - timedelta(seconds=self.config.heartbeat_timeout)
        peers = tuple(sorted(job.id for job in jobs.alive(session, self.config.job_type, since)))
        if peers != self._peers:
            if self._peers:
                self._sweep = True
            self._peers = peers

    def _owns(self, run_pk: int) -> bool:
        """Whether this scheduler plans ``run_pk`` when told it changed (see the module's
        docstring). Any run, while it does not see itself among the live schedulers."""
        peers = self._peers
        if self.job_id not in peers:
            return True
        return peers[run_pk % len(peers)] == self.job_id

    def _check_silence(self, session: Session, now: datetime, monotonic: float) -> None:
        """Adopt dead schedulers' tries, fail zombies, take back tries queued too long."""
        timeout = self.config.heartbeat_timeout
        changed: list[int] = []
        if monotonic >= self._judge_after:
            changed += adoption.adopt(session, self.cache, timeout, now)
            changed += outcomes.reap_zombies(session, self.cache, timeout, now)
        queued_timeout = self.config.task_queued_timeout
        taken_back = outcomes.reset_queued_too_long(
            session, queued_timeout, now, keep=self.executor.running_try_ids()
        )
        if taken_back:
            log.warning(
                "%d tries queued for longer than %gs (task_queued_timeout) and never started "
                "(a message the broker lost?) are taken back and queued again",
                taken_back,
                queued_timeout,
            )
        # Tries taken back schedule their instances again: say so if they are left behind.
        self._scheduled_more = self._scheduled_more or taken_back > 0
        if changed:
            self._dirty.update(changed)
            self._retries_changed = True  # a failed try may retry
        self._backstop_timeouts(session, now)

    def _announce(self, session: Session, run_pk: int) -> None:
        """Tell the other schedulers (on Postgres, at commit) that ``run_pk`` has instances
        this one had no slot for; its own listener ignores the notification."""
        wakeups.announce(session, run_pk=run_pk, left_behind=True)
        pid = db.backend_pid(session)
        if pid is not None and self.notifications is not None:
            self.notifications.ignored_pids.add(pid)

    def _nothing_due(self, now: datetime, monotonic: float) -> bool:
        """True if nothing asks for a pass now: no run to plan, no queueing to retry, no
        timer due."""
        return (
            not (self._dirty or self._sweep or self._create_runs or self._start_runs)
            and not self._queue_again
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
                outcomes.started(session, event, now, self.cache, ends=self.upstream_ends)
            elif isinstance(event, TryEnded):
                run_pk = outcomes.ended(session, self.cache, event)
                if run_pk is not None:
                    self._dirty.add(run_pk)
                if event.outcome.state is TaskState.FAILED:
                    self._retries_changed = True

    def _advance(self, session: Session, now: datetime) -> dict[int, runs.Run]:
        """Plan the dirty runs; the runs it claimed, by id."""
        if self._sweep:
            self._sweep = False
            self._refresh_peers(session, now)
            self._dirty.update(r.id for r in runs.in_states(session, [RunState.RUNNING]))
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            return {}
        # A run another scheduler is planning stays dirty here: its plan may predate what
        # this pass changed (uncommitted, so invisible to it), so this one plans it again.
        claimed, held = runs.claim(session, dirty)
        self._held_runs |= held
        self._contended = self._contended or bool(held)
        for run in claimed:
            if run.state is not RunState.RUNNING:
                continue
            advanced = advance.advance(session, self.cache, run, now)
            self._scheduled_more = self._scheduled_more or advanced.scheduled > 0
            state = advanced.state
            if state is not RunState.RUNNING:
                log.info("run %s of %s ended: %s", run.run_id, run.dag_id, state.value)
                self._create_runs = True  # a slot under max_active_runs may have opened
                self._start_runs = True
        return {run.id: run for run in claimed}

    # -- waiting -----------------------------------------------------------------------------
    def _wait(self, stop: threading.Event) -> None:
        spacing = self._pass_began + self.config.backlog_pass_interval - time.monotonic()
        if self._throttled and spacing > 0:
            # Wake-ups meanwhile wait in their connection's buffer, read below.
            stop.wait(spacing)
        busy = self._dirty or self._sweep or self._create_runs or self._start_runs
        monotonic = time.monotonic()
        # Busy: no wait, but still read the wake-ups, so that a long busy spell sees them.
        timeout = 0.0 if busy else self._timeout(monotonic)
        fds: list[int] = [*self.executor.fileno_list()]
        if self.listener is not None:
            fds.append(self.listener.fileno())
        remote = self.notifications.fileno() if self.notifications is not None else None
        if remote is not None:
            fds.append(remote)
        if stop.is_set():
            return
        readable, _, _ = select.select(fds, [], [], min(timeout, 1.0))
        if self.listener is not None and self.listener.fileno() in readable:
            self.listener.drain()
            self._everything_may_have_changed()
        if self.notifications is not None and (remote is None or remote in readable):
            heard = self.notifications.receive()
            self._dirty.update(pk for pk in heard.runs if self._owns(pk))
            self._dirty |= heard.left_behind
            if heard.failed:
                self._retries_changed = True
            if heard.everything:
                self._everything_may_have_changed()
        if not busy and time.monotonic() >= self._next_poll:
            self._everything_may_have_changed()

    def _timeout(self, monotonic: float) -> float:
        if monotonic >= self._next_poll:
            self._next_poll = monotonic + self.config.poll_interval
        deadlines = [self._next_poll, self._next_heartbeat, self._next_zombie_check]
        now = _now()
        if self._next_creation is not None:
            deadlines.append(monotonic + (self._next_creation - now).total_seconds())
        if self._next_retry is not None:
            deadlines.append(monotonic + (self._next_retry - now).total_seconds())
        if self._retry_at is not None:
            deadlines.append(self._retry_at)
        attempt = self.notifications.next_attempt() if self.notifications is not None else None
        if attempt is not None:
            deadlines.append(attempt)
        return max(0.0, min(deadlines) - monotonic)

    def _everything_may_have_changed(self) -> None:
        """A wake-up from outside (a trigger, a clear, a new version) or the fallback poll."""
        self._sweep = True
        self._create_runs = True
        self._start_runs = True
        self._retries_changed = True
