"""What the scheduler hands an executor (workloads) and hears back (events).

The executor interface is small on purpose: ``submit`` a workload, learn when its try
``started`` and ``ended``, and ``stop``. An executor never writes to the metadata database;
the scheduler applies its events through the guarded transitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gnomon.runtime.protocol import TryOutcome, TryRequest

#: Exit reason of a try an executor killed because it was shutting down: the scheduler
#: retries it without using up one of its retries.
SHUTDOWN_EXIT_REASON = "shutdown"


@dataclass(frozen=True, slots=True)
class Workload:
    """One try to run: what it is, which DAG version it belongs to, where it logs."""

    try_id: int
    run_pk: int
    request: TryRequest
    dag_version_id: int
    version_hash: str
    fileloc: str
    dags_folder: str
    log_path: str
    timeout: float | None
    queue: str = "default"
    #: The log's path relative to the logs folder (the same on every machine).
    log_relpath: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "try_id": self.try_id,
            "run_pk": self.run_pk,
            "request": self.request.to_json(),
            "dag_version_id": self.dag_version_id,
            "version_hash": self.version_hash,
            "fileloc": self.fileloc,
            "dags_folder": self.dags_folder,
            "log_path": self.log_path,
            "timeout": self.timeout,
            "queue": self.queue,
            "log_relpath": self.log_relpath,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Workload:
        values = dict(data)
        values["request"] = TryRequest.from_json(data["request"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TryStarted:
    try_id: int
    pid: int
    hostname: str
    worker: str
    started_at: datetime
    #: Where the running try's log can be read, if not where it was recorded when the try
    #: was queued (a remote worker's log server).
    log_location: str | None = None


@dataclass(frozen=True, slots=True)
class TryEnded:
    try_id: int
    outcome: TryOutcome
    pid: int | None
    started_at: datetime | None
    ended_at: datetime
    #: Where the try's log is now, if not where it was recorded when the try was queued
    #: (the worker copied it to the remote log store).
    log_location: str | None = None


Event = TryStarted | TryEnded


class Executor(Protocol):
    """The scheduler's view of an executor."""

    @property
    def tries_outlive_scheduler(self) -> bool:
        """Whether its tries go on running when the scheduler process dies.

        False for the local executor: its workers die with the scheduler, so a dead
        scheduler's running tries are failed at once when another scheduler adopts its work.
        True for executors whose workers are elsewhere and heartbeat on their own (Celery):
        adoption leaves their running tries alone, and the zombie reaper judges them by their
        heartbeats. Never-started (queued) tries of a dead scheduler are taken back either
        way. A plain class attribute satisfies this.
        """
        ...

    def start(self) -> None:
        """Get ready to run (start worker processes...)."""

    @property
    def open_slots(self) -> int:
        """How many more workloads it accepts now."""
        ...

    def submit(self, workload: Workload) -> None:
        """Run ``workload``'s try; its events come from ``collect``."""

    def fileno_list(self) -> list[int]:
        """File descriptors that become readable when events are pending (for ``select``)."""
        ...

    def collect(self) -> list[Event]:
        """Events that arrived since the last call, without waiting."""
        ...

    def running_try_ids(self) -> list[int]:
        """Tries that are alive in this executor right now (they heartbeat)."""
        ...

    def kill(self, try_id: int) -> None:
        """Kill the try's processes now, if this executor runs it (its end event may follow)."""

    def stop(self, grace: float) -> list[Event]:
        """Stop: tries get ``grace`` seconds to end, then are killed (ending ``shutdown``)."""
        ...
