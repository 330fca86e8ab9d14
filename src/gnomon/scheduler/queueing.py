"""Choosing which scheduled task instances go to the executor now, within every limit:
the executor's open slots (``parallelism``), pool slots, and each DAG's ``max_active_tasks``;
highest ``priority_weight`` first.

Several schedulers on Postgres: counting and filling the limits is one critical section,
serialised by a transaction-scoped advisory lock (``store.locks.try_queueing_lock``). A
scheduler that finds it taken queues nothing this pass and tries again a moment later; the
holder is queueing meanwhile, from the same candidates. The instances chosen are queued in
one statement that passes over rows another transaction holds (``SKIP LOCKED``: an operator
marking one, say), so queueing never waits; only the rows it queues are locked, which costs
far less than locking every candidate read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from gnomon.executors.base import Workload
from gnomon.runtime.local_run import try_log_path
from gnomon.runtime.protocol import TryRequest
from gnomon.scheduler.versions import VersionCache
from gnomon.store import locks, models, pools, runs, task_instances, transitions, tries

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueueContext:
    job_id: int | None
    logs_folder: Path
    dags_folder: Path


@dataclass(frozen=True, slots=True)
class Queued:
    """What one queueing step did."""

    workloads: list[Workload] = field(default_factory=list)
    #: Another scheduler held the queueing lock: nothing was counted or queued; try again
    #: shortly.
    contended: bool = False
    #: A run with an instance that fits every limit but this executor's slots: another
    #: scheduler with room should be told to take it.
    left_behind: int | None = None
    #: Instances queued and not started yet, this step's included (0 if not counted).
    backlog: int = 0


class _Limits:
    """Pool and per-DAG occupancy as counted at the start of the step, updated as it queues."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.capacity = {p.name: p.slots for p in pools.list_all(session)}
        held = task_instances.occupancy(session)
        self.used = held.pool_slots
        self.per_dag = held.per_dag
        self.dag_limits = held.dag_limits
        self.queued = held.queued

    def fits(self, ti: task_instances.TI) -> bool:
        limit = self.capacity[ti.pool]
        if limit != pools.UNLIMITED and self.used.get(ti.pool, 0) + ti.pool_slots > limit:
            return False
        if ti.dag_id not in self.dag_limits:
            dag = self.session.get(models.Dag, ti.dag_id)
            self.dag_limits[ti.dag_id] = dag.max_active_tasks if dag is not None else 16
        return self.per_dag.get(ti.dag_id, 0) < self.dag_limits[ti.dag_id]

    def full_pools(self) -> set[str]:
        """Pools with no slot left: their instances need not be read."""
        return {
            name
            for name, limit in self.capacity.items()
            if limit != pools.UNLIMITED and self.used.get(name, 0) >= limit
        }

    def full_dags(self) -> set[str]:
        """DAGs at their ``max_active_tasks``: their instances need not be read."""
        return {d for d, n in self.per_dag.items() if n >= self.dag_limits.get(d, n + 1)}

    def room(self, open_slots: int) -> int:
        """At most how many instances the pools let through now (``open_slots`` if a pool
        has no limit)."""
        if pools.UNLIMITED in self.capacity.values():
            return open_slots
        free = sum(max(0, limit - self.used.get(name, 0)) for name, limit in self.capacity.items())
        return min(open_slots, free)

    def take(self, ti: task_instances.TI) -> None:
        self.used[ti.pool] = self.used.get(ti.pool, 0) + ti.pool_slots
        self.per_dag[ti.dag_id] = self.per_dag.get(ti.dag_id, 0) + 1


class Queuer:
    """Queues task instances; remembers which missing pools it already warned about."""

    def __init__(self, context: QueueContext) -> None:
        self.context = context
        self._warned: set[str] = set()

    def queue(
        self,
        session: Session,
        cache: VersionCache,
        open_slots: int,
        now: datetime,
        *,
        known_runs: Mapping[int, runs.Run] | None = None,
    ) -> Queued:
        """Queue scheduled instances that fit; ``known_runs``: runs this transaction read
        already (their rows are not read again)."""
        if open_slots <= 0:
            return Queued()
        if not locks.try_queueing_lock(session):
            return Queued(contended=True)
        limits = _Limits(session)
        # Read only instances that may fit: not those of a full pool or of a DAG at its
        # max_active_tasks (with a 128-slot pool full and thousands scheduled, reading them
        # all on every pass was most of the pass).
        room = limits.room(open_slots)
        if room <= 0:
            return Queued(backlog=limits.queued)
        candidates = task_instances.scheduled(
            session,
            limit=room * 2 + 8,
            skip_pools=limits.full_pools(),
            skip_dags=limits.full_dags(),
        )
        if not candidates:
            return Queued(backlog=limits.queued)
        chosen: list[task_instances.TI] = []
        left_behind: int | None = None
        for ti in candidates:
            if ti.pool not in limits.capacity:
                self._warn_missing_pool(ti)
                continue
            if not limits.fits(ti):
                continue
            if len(chosen) >= open_slots:
                left_behind = ti.dag_run_id
                break
            limits.take(ti)
            chosen.append(ti)
        # Instances changed or held since they were read are not moved (and their slots
        # stay counted until the next pass: fewer queued, never more).
        moved = transitions.queue_instances(session, [ti.id for ti in chosen], queued_at=now)
        run_cache: dict[int, runs.Run] = dict(known_runs or {})
        planned: list[tuple[task_instances.TI, runs.Run, int, Path]] = []
        for ti in chosen:
            if ti.id not in moved:
                continue
            run = run_cache.get(ti.dag_run_id)
            if run is None:
                found = runs.get_by_pk(session, ti.dag_run_id)
                assert found is not None
                run = run_cache[ti.dag_run_id] = found
            try_number = moved[ti.id]
            planned.append(
                (ti, run, try_number, try_log_path(run.dag_id, run.run_id, ti.key, try_number))
            )
        try_ids = tries.add_many(
            session,
            [
                tries.NewTry(
                    ti.id,
                    try_number,
                    self.context.job_id,
                    ti.queue,
                    str(self.context.logs_folder / relpath),
                )
                for ti, run, try_number, relpath in planned
            ],
            now,
        )
        workloads = [
            self._workload(session, cache, try_id, ti, run, try_number, relpath)
            for try_id, (ti, run, try_number, relpath) in zip(try_ids, planned, strict=True)
        ]
        return Queued(workloads, left_behind=left_behind, backlog=limits.queued + len(workloads))

    def _warn_missing_pool(self, ti: task_instances.TI) -> None:
        if ti.pool in self._warned:
            return
        self._warned.add(ti.pool)
        log.warning(
            "task %s.%s waits for pool %r, which does not exist: create it with "
            "`gnomon pools set %s SLOTS`",
            ti.dag_id,
            ti.task_id,
            ti.pool,
            ti.pool,
        )

    def _workload(
        self,
        session: Session,
        cache: VersionCache,
        try_id: int,
        ti: task_instances.TI,
        run: runs.Run,
        try_number: int,
        log_relpath: Path,
    ) -> Workload:
        version = cache.get(session, run.dag_version_id)
        task = version.dag.tasks[ti.task_id]
        return Workload(
            try_id=try_id,
            run_pk=run.id,
            request=try_request(run, ti, try_number),
            dag_version_id=version.id,
            version_hash=version.version_hash,
            fileloc=version.fileloc,
            dags_folder=str(self.context.dags_folder),
            log_path=str(self.context.logs_folder / log_relpath),
            timeout=task.execution_timeout.total_seconds() if task.execution_timeout else None,
            queue=ti.queue,
            log_relpath=str(log_relpath),
        )


def try_request(run: runs.Run, ti: task_instances.TI, try_number: int) -> TryRequest:
    """What the try process needs to run try ``try_number`` of ``ti`` (the workload's request,
    and the execution API's answer to a worker that starts the try)."""
    assert run.logical_date is not None
    assert run.data_interval_start is not None and run.data_interval_end is not None
    return TryRequest(
        dag_id=run.dag_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        try_number=try_number,
        run_id=run.run_id,
        logical_date=run.logical_date,
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        conf=run.conf,
        params=run.params,
        run_type=run.run_type.value,
        max_tries=ti.max_tries,
    )
