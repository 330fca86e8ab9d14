"""The grid of the UI's DAG page: the latest runs x the tasks, one state per cell."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from gnomon.api import deps, errors
from gnomon.api.deps import AsViewer, Config
from gnomon.api.schemas import RunSummary
from gnomon.semantics.states import TaskState
from gnomon.serialization.model import SerializedDag
from gnomon.store import dags as stored_dags
from gnomon.store import runs, task_instances

router = APIRouter(tags=["grid"], responses=errors.RESPONSES)

_FAILED = frozenset({TaskState.FAILED.value, TaskState.UPSTREAM_FAILED.value})
#: In-progress states, most active first: a mapped task's cell shows the first one present.
_ACTIVE = (
    TaskState.RUNNING.value,
    TaskState.QUEUED.value,
    TaskState.SCHEDULED.value,
    TaskState.UP_FOR_RETRY.value,
)
_DONE = frozenset({TaskState.SUCCESS.value, TaskState.SKIPPED.value, TaskState.REMOVED.value})


class GridTask(BaseModel):
    task_id: str
    group: str | None
    is_mapped: bool
    operator: str


class Grid(BaseModel):
    dag_id: str
    tasks: list[GridTask]
    #: Newest first.
    runs: list[RunSummary]
    #: Per run, per task: the state (a mapped task's: a summary of its map indexes), or null
    #: if the run has no instance of the task.
    states: list[list[str | None]]
    #: Per run, per task: the try number (a mapped task's: the highest), 0 if none.
    tries: list[list[int]]


def summarize(states: list[str]) -> str:
    """One state for a mapped task's instances: failed if any failed, else the most active
    in-progress state, else success (or skipped if all were skipped)."""
    present = set(states)
    if present & _FAILED:
        return TaskState.FAILED.value
    for state in _ACTIVE:
        if state in present:
            return state
    if present == {TaskState.SKIPPED.value}:
        return TaskState.SKIPPED.value
    if present <= _DONE:
        return TaskState.SUCCESS.value
    return TaskState.NONE.value


@router.get("/dags/{dag_id}/grid", response_model=Grid)
def get_grid(
    dag_id: str,
    cfg: Config,
    principal: AsViewer,
    limit: Annotated[int, Query(ge=1, le=365, description="Runs per page.")] = 25,
    offset: Annotated[int, Query(ge=0, le=2**31, description="Runs to skip.")] = 0,
) -> Response:
    """The latest runs' task states, in the order of the latest version's tasks."""
    with cfg.read() as session:
        deps.visible_dag(session, principal, dag_id)
        version = stored_dags.latest_version(session, dag_id)
        dag = SerializedDag.from_json(version.serialized) if version else None
        found, _ = runs.page(
            session,
            dag_ids=[dag_id],
            states=None,
            after=None,
            before=None,
            limit=limit,
            offset=offset,
        )
        groups, mapped_rows = task_instances.grid_cells(session, [r.id for r in found])
    order = list(dag.order) if dag else []
    column = {task_id: i for i, task_id in enumerate(order)}
    line = {run.id: i for i, run in enumerate(found)}
    states: list[list[str | None]] = [[None] * len(order) for _ in found]
    tries: list[list[int]] = [[0] * len(order) for _ in found]
    for group in groups:
        r = line[group.run_pk]
        row_states, row_tries = states[r], tries[r]
        for task_id in group.task_ids:
            col = column.get(task_id)
            if col is None:
                continue  # a task the latest version no longer has
            row_states[col] = group.state
            row_tries[col] = group.try_number
    mapped: dict[tuple[int, int], list[str]] = {}
    for run_pk, task_id, state, try_number in mapped_rows:
        col = column.get(task_id)
        if col is None:
            continue
        r = line[run_pk]
        mapped.setdefault((r, col), []).append(state)
        tries[r][col] = max(tries[r][col], try_number)
    for (r, col), cells in mapped.items():
        states[r][col] = summarize(cells)
    tasks = (
        [
            GridTask(task_id=t.task_id, group=t.group, is_mapped=t.is_mapped, operator=t.operator)
            for t in (dag.tasks[task_id] for task_id in order)
        ]
        if dag
        else []
    )
    grid = Grid.model_construct(
        dag_id=dag_id,
        tasks=tasks,
        runs=[RunSummary.of(r) for r in found],
        states=states,
        tries=tries,
    )
    # Serialized here, once, by pydantic-core: FastAPI would first validate the 100,000
    # cells of a big DAG's grid against the response model again, which costs more than
    # the query.
    return Response(grid.model_dump_json(), media_type="application/json")
