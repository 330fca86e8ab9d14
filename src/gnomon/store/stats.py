"""Reads for monitoring: counts by state (the API's ``/metrics``) and what a try's hand-off
latency is measured from. Few, small queries: they run on every scrape and every start."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from gnomon.semantics.states import FINISHED, RunState, TaskState
from gnomon.store import models
from gnomon.store.runs import ACTIVE


def runs_by_state(session: Session) -> dict[RunState, int]:
    """How many runs are in each state (every state present, 0 if none)."""
    rows = session.execute(
        select(models.DagRun.state, func.count()).group_by(models.DagRun.state)
    ).all()
    counts = dict.fromkeys(RunState, 0)
    counts.update({state: count for state, count in rows})
    return counts


def instances_by_state_in_active_runs(session: Session) -> dict[TaskState, int]:
    """How many task instances of queued and running runs are in each state (every state
    present, 0 if none). Finished runs are left out: their instances never change again,
    and there are many more of them."""
    ti, run = models.TaskInstance, models.DagRun
    rows = session.execute(
        select(ti.state, func.count())
        .join(run, run.id == ti.dag_run_id)
        .where(run.state.in_(list(ACTIVE)))
        .group_by(ti.state)
    ).all()
    counts = dict.fromkeys(TaskState, 0)
    counts.update({state: count for state, count in rows})
    return counts


@dataclass(frozen=True, slots=True)
class InstanceOrigin:
    """A task instance's task, run and the run's DAG version (to find its upstream)."""

    task_id: str
    run_pk: int
    dag_version_id: int


def instance_origin(session: Session, ti_id: int) -> InstanceOrigin | None:
    ti, run = models.TaskInstance, models.DagRun
    row = session.execute(
        select(ti.task_id, ti.dag_run_id, run.dag_version_id)
        .join(run, run.id == ti.dag_run_id)
        .where(ti.id == ti_id)
    ).first()
    return None if row is None else InstanceOrigin(row[0], row[1], row[2])


_INSTANCES = models.TaskInstance.__table__
#: Core, built once: it runs for every first try that starts (whose upstream ends are not
#: known yet). The count says whether every one of those instances has finished.
_LATEST_END = select(
    func.max(_INSTANCES.c.end_date),
    func.count().filter(_INSTANCES.c.state.not_in([state.value for state in FINISHED])),
).where(
    _INSTANCES.c.dag_run_id == bindparam("run_pk"),
    _INSTANCES.c.task_id.in_(bindparam("task_ids", expanding=True)),
)


class UpstreamEnds:
    """The latest end among a run's upstream instances, kept once all of them finished.

    A fan-out's thousand tasks share one upstream, so their first tries' starts (each
    measures its hand-off from that end: ``gnomon_task_hop_seconds``) read it once, not a
    thousand times. Finished instances keep their end until cleared, and a cleared
    instance's downstream then runs a later try, which is not measured. Bounded: the oldest
    half goes when it is full. Safe to share between threads (single dict operations)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._ends: dict[tuple[int, frozenset[str]], datetime | None] = {}

    def latest(self, session: Session, run_pk: int, task_ids: Collection[str]) -> datetime | None:
        """The latest end among the instances (every map index) of ``task_ids`` in the run."""
        key = (run_pk, frozenset(task_ids))
        if key in self._ends:
            return self._ends[key]
        row = session.execute(_LATEST_END, {"run_pk": run_pk, "task_ids": sorted(key[1])}).one()
        found: datetime | None = row[0]
        if row[1] == 0:
            if len(self._ends) >= self.size:
                for old in list(self._ends)[: self.size // 2]:
                    self._ends.pop(old, None)
            self._ends[key] = found
        return found
