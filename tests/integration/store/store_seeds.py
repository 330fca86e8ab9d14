"""Rows the store tests build on: a DAG with one version, a run, task instances, tries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from gnomon.semantics.states import RunState, TaskState
from gnomon.store import models

LOGICAL_DATE = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SeededRun:
    dag_id: str
    version_id: int
    run_pk: int
    ti_ids: tuple[int, ...]


def add_dag(session: Session, dag_id: str = "etl") -> int:
    """A DAG and its first version (closing the dags <-> dag_versions cycle); the version id."""
    dag = models.Dag(dag_id=dag_id, fileloc=f"/dags/{dag_id}.py", is_paused=False)
    session.add(dag)
    session.flush()
    version = models.DagVersion(
        dag_id=dag_id,
        version_hash="0" * 64,
        serialized={"dag_id": dag_id},
        source_code="...",
        fileloc=dag.fileloc,
    )
    session.add(version)
    session.flush()
    dag.latest_version_id = version.id
    session.flush()
    return version.id


def add_run(
    session: Session, dag_id: str, version_id: int, run_id: str = "manual__2026-01-01"
) -> int:
    run = models.DagRun(
        dag_id=dag_id,
        run_id=run_id,
        dag_version_id=version_id,
        run_type=models.RunType.MANUAL,
        state=RunState.RUNNING,
        logical_date=LOGICAL_DATE,
        run_after=LOGICAL_DATE,
    )
    session.add(run)
    session.flush()
    return run.id


def add_ti(
    session: Session, run_pk: int, task_id: str, state: TaskState, map_index: int = -1
) -> int:
    run = session.get_one(models.DagRun, run_pk)
    ti = models.TaskInstance(
        dag_run_id=run_pk,
        dag_id=run.dag_id,
        run_id=run.run_id,
        task_id=task_id,
        map_index=map_index,
        state=state,
    )
    session.add(ti)
    session.flush()
    return ti.id


def add_try(session: Session, ti_id: int, try_number: int, state: TaskState) -> int:
    row = models.TaskTry(task_instance_id=ti_id, try_number=try_number, state=state)
    session.add(row)
    session.flush()
    return row.id


def seed_run(session: Session, *task_states: TaskState, dag_id: str = "etl") -> SeededRun:
    """A committed DAG, version and running run with one task instance per given state."""
    version_id = add_dag(session, dag_id)
    run_pk = add_run(session, dag_id, version_id)
    ti_ids = tuple(
        add_ti(session, run_pk, f"task_{i}", state) for i, state in enumerate(task_states)
    )
    session.commit()
    return SeededRun(dag_id, version_id, run_pk, ti_ids)
