"""The grid's cells: unmapped instances grouped by state and try number, mapped ones apart."""

from __future__ import annotations

from sqlalchemy import update
from support.orchestrator import Orchestrator

from gnomon.semantics.states import TaskState
from gnomon.store import models, runs, task_instances

DAG = """
from datetime import datetime
from gnomon import DAG, TaskGroup
from gnomon.operators.empty import EmptyOperator

with DAG("cells", schedule=None, start_date=datetime(2026, 1, 1)):
    with TaskGroup("load"):
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
    c = EmptyOperator(task_id="c")
    a >> b >> c
"""


def test_instances_of_one_run_are_grouped_by_state_and_try_with_their_task_ids(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.write_dag("cells", DAG)
    orchestrator.sync()
    run_id = orchestrator.trigger("cells")
    ti = models.TaskInstance
    with orchestrator.sessions.begin() as session:
        run = runs.get(session, "cells", run_id)
        assert run is not None
        for task_id, state, try_number in (
            ("load.a", TaskState.SUCCESS, 2),
            ("load.b", TaskState.SUCCESS, 2),
            ("c", TaskState.FAILED, 1),
        ):
            session.execute(
                update(ti)
                .where(ti.dag_run_id == run.id, ti.task_id == task_id)
                .values(state=state, try_number=try_number)
            )
        groups, mapped = task_instances.grid_cells(session, [run.id])
    found = {(g.state, g.try_number): sorted(g.task_ids) for g in groups}
    assert found == {("success", 2): ["load.a", "load.b"], ("failed", 1): ["c"]}
    assert mapped == []
