"""Finding a run, a task instance or a try of a DAG the caller may see; 404 otherwise."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gnomon import access
from gnomon.api import deps, errors
from gnomon.store import runs, task_instances, tries


def visible_run(
    session: Session, principal: access.Principal, dag_id: str, run_id: str
) -> runs.Run:
    deps.visible_dag(session, principal, dag_id)
    run = runs.get(session, dag_id, run_id)
    if run is None:
        raise errors.NotFound(f"DAG {dag_id!r} has no run {run_id!r}")
    return run


def instance(session: Session, run: runs.Run, task_id: str, map_index: int) -> task_instances.TI:
    ti = task_instances.get(session, run.id, task_id, map_index)
    if ti is None:
        where = f"[{map_index}]" if map_index >= 0 else ""
        raise errors.NotFound(
            f"run {run.run_id!r} of DAG {run.dag_id!r} has no task instance {task_id}{where}"
        )
    return ti


def attempt(session: Session, ti: task_instances.TI, try_number: int) -> tries.Try:
    found = tries.of_instance(session, ti.id, try_number)
    if found is None:
        raise errors.NotFound(
            f"task instance {ti.task_id} of run {ti.run_id!r} has no try {try_number} "
            f"(it has {ti.try_number})"
        )
    return found
