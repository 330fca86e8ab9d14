"""Where the scheduler's time goes: wall time per phase of a pass, and SQL per pass.

Measurement only: ``PhaseTimer`` wraps a few functions of the scheduler (the pass, the wait,
the executor calls, the steps of a pass) and listens to the engine's cursor and the
sessions' commit events, for the duration of one scenario, then puts everything back. Only
the scheduler thread is counted.
"""

from __future__ import annotations

import cProfile
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from gnomon.scheduler import advance, creation, loop, outcomes, queueing
from gnomon.store import task_instances, tries

SCHEDULER_THREAD = "scheduler"


@dataclass
class Phase:
    calls: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, float]:
        return {
            "calls": self.calls,
            "total_ms": round(self.seconds * 1000, 1),
            "mean_ms": round(self.seconds * 1000 / self.calls, 3) if self.calls else 0.0,
        }


@dataclass
class PhaseTimer:
    phases: dict[str, Phase] = field(default_factory=dict)
    #: Off during the warm-up; nothing is counted until it is set.
    active: bool = False
    _undo: list[Callable[[], None]] = field(default_factory=list)
    _sql_started: dict[int, float] = field(default_factory=dict)
    _commit_started: float = 0.0

    # -- wrapping ----------------------------------------------------------------------------
    def _timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        phase = self.phases.setdefault(name, Phase())

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self.active or threading.current_thread().name != SCHEDULER_THREAD:
                return function(*args, **kwargs)
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phase.calls += 1
                phase.seconds += time.perf_counter() - began

        return wrapper

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        """Time ``owner.attribute`` (a module's function, a class's method, or an
        object's bound method, then shadowed on the object) under ``name``."""
        own = vars(owner).get(attribute)
        setattr(owner, attribute, self._timed(name, getattr(owner, attribute)))

        def undo() -> None:
            if own is not None:
                setattr(owner, attribute, own)
            else:
                delattr(owner, attribute)

        self._undo.append(undo)

    def install(
        self, scheduler: loop.Scheduler, engine: Engine, sessions: sessionmaker[Session]
    ) -> None:
        executor = scheduler.executor
        self.wrap(scheduler, "run_pass", "pass")
        self.wrap(scheduler, "_wait", "wait (between passes)")
        self.wrap(task_instances, "next_retry_at", "wait: next_retry_at query")
        self.wrap(executor, "collect", "pass: executor.collect")
        self.wrap(executor, "submit", "executor.submit (after commit)")
        self.wrap(outcomes, "started", "pass: apply TryStarted")
        self.wrap(outcomes, "ended", "pass: apply TryEnded")
        self.wrap(creation, "create_due_runs", "pass: create_due_runs")
        self.wrap(advance, "start_queued_runs", "pass: start_queued_runs")
        self.wrap(task_instances, "due_retries", "pass: due_retries")
        self.wrap(advance, "advance", "pass: advance (plan a run)")
        self.wrap(queueing.Queuer, "queue", "pass: queue")
        self.wrap(tries, "add_many", "pass: queue: tries.add_many")
        self.wrap(tries, "heartbeat", "pass: heartbeats")
        self._listen(engine, sessions)

    def _listen(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        statements = self.phases.setdefault("sql statements (driver time)", Phase())
        commits = self.phases.setdefault("commit", Phase())

        def before_execute(conn: Any, cursor: Any, *args: Any) -> None:
            if self.active and threading.current_thread().name == SCHEDULER_THREAD:
                self._sql_started[id(cursor)] = time.perf_counter()

        def after_execute(conn: Any, cursor: Any, *args: Any) -> None:
            began = self._sql_started.pop(id(cursor), None)
            if began is not None:
                statements.calls += 1
                statements.seconds += time.perf_counter() - began

        def before_commit(session: Session) -> None:
            if self.active and threading.current_thread().name == SCHEDULER_THREAD:
                self._commit_started = time.perf_counter()

        def after_commit(session: Session) -> None:
            if self._commit_started and threading.current_thread().name == SCHEDULER_THREAD:
                commits.calls += 1
                commits.seconds += time.perf_counter() - self._commit_started
                self._commit_started = 0.0

        listeners: list[tuple[Any, str, Callable[..., None]]] = [
            (engine, "before_cursor_execute", before_execute),
            (engine, "after_cursor_execute", after_execute),
            (sessions, "before_commit", before_commit),
            (sessions, "after_commit", after_commit),
        ]
        for target, name, listener in listeners:
            event.listen(target, name, listener)
            self._undo.append(functools.partial(event.remove, target, name, listener))

    def uninstall(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    def to_json(self) -> dict[str, dict[str, float]]:
        return {name: phase.to_json() for name, phase in self.phases.items()}


class PassProfiler:
    """``cProfile`` of the scheduler thread's passes and waits, while ``active``."""

    def __init__(self) -> None:
        self.profile = cProfile.Profile()
        self.active = False

    def install(self, scheduler: loop.Scheduler) -> None:
        for attribute in ("run_pass", "_wait"):
            setattr(scheduler, attribute, self._profiled(getattr(scheduler, attribute)))

    def _profiled(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self.active:
                return function(*args, **kwargs)
            return self.profile.runcall(function, *args, **kwargs)

        return wrapper
