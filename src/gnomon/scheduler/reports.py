"""A stored run as JSON (``gnomon runs show --output json``, ``GET /api/v1/dags/…/runs/…``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gnomon.runtime import reports
from gnomon.scheduler.versions import VersionCache
from gnomon.store import runs, task_instances, tries


def run_report(session: Session, run: runs.Run) -> dict[str, Any]:
    """The run as JSON: the shape of ``gnomon dags test --output json``, plus the run's
    fields and each task instance's tries."""
    instances = task_instances.of_run(session, run.id)
    attempts = tries.of_instances(session, [ti.id for ti in instances])
    dag = VersionCache().get(session, run.dag_version_id).dag
    order = {task_id: i for i, task_id in enumerate(dag.order)}
    tasks = []
    for ti in sorted(instances, key=lambda t: (order.get(t.task_id, -1), t.map_index)):
        # The instance as `dags test` reports it, with the tries as the store recorded them.
        record = reports.TaskInstanceRecord(
            ti.key,
            ti.state,
            ti.try_number,
            start_date=ti.start_date,
            end_date=ti.end_date,
            note=ti.note,
        )
        tasks.append({**record.to_json(), "tries": [t.to_json() for t in attempts.get(ti.id, [])]})
    return {**run.to_json(), "tasks": tasks}
