"""Reads for monitoring: counts by state (the API's ``/metrics``) and what a try's hand-off
latency is measured from. Few, small queries: they run on every scrape and every start."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from gnomon.semantics.states import RunState, TaskState
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
#: Core, built once: it runs for every first try that starts.
_LATEST_END = select(func.max(_INSTANCES.c.end_date)).where(
    _INSTANCES.c.dag_run_id == bindparam("run_pk"),
    _INSTANCES.c.task_id.in_(bindparam("task_ids", expanding=True)),
)


def latest_end(session: Session, run_pk: int, task_ids: Collection[str]) -> datetime | None:
    """The latest end among the instances (every map index) of ``task_ids`` in the run."""
    found: datetime | None = session.scalar(
        _LATEST_END, {"run_pk": run_pk, "task_ids": list(task_ids)}
    )
    return found
