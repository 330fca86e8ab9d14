"""DAGs: list, detail (structure from the serialized version), pause, versions, import
errors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from gnomon.api import deps, errors
from gnomon.api.deps import AsUser, AsViewer, Config
from gnomon.api.pagination import Page, PagingParams
from gnomon.api.schemas import RunSummary
from gnomon.events import wakeups
from gnomon.serialization.model import SerializedDag
from gnomon.store import dags as stored_dags
from gnomon.store import import_errors, runs

router = APIRouter(prefix="/dags", tags=["dags"], responses=errors.RESPONSES)

#: Runs shown per DAG in the list (the coloured dots of the DAG list page).
RECENT_RUNS = 10
_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": errors.ErrorOut, "description": "No such DAG (or version) for the caller"}
}


class DagSummary(BaseModel):
    dag_id: str
    is_paused: bool
    is_active: bool
    team: str | None
    tags: list[str]
    fileloc: str
    description: str | None
    schedule: str | None
    next_dagrun_logical_date: datetime | None
    next_dagrun_create_after: datetime | None
    max_active_runs: int
    max_active_tasks: int
    latest_version_id: int | None
    last_parsed_at: datetime | None
    recent_runs: list[RunSummary]


class TaskStructure(BaseModel):
    task_id: str
    operator: str
    upstream: list[str]
    downstream: list[str]
    trigger_rule: str
    retries: int
    pool: str
    queue: str
    priority_weight: int
    group: str | None
    is_mapped: bool
    doc_md: str | None
    fields: dict[str, Any]


class DagDetail(DagSummary):
    version_hash: str | None
    timezone: str | None
    catchup: bool | None
    start_date: datetime | None
    doc_md: str | None
    params: dict[str, Any]
    #: Task ids, upstream before downstream.
    order: list[str]
    tasks: list[TaskStructure]
    task_groups: dict[str, Any]


class DagPatch(BaseModel):
    is_paused: bool


class DagVersionOut(BaseModel):
    id: int
    version_hash: str
    fileloc: str
    created_at: datetime


class DagSource(BaseModel):
    version_id: int
    version_hash: str
    fileloc: str
    source_code: str


class ImportErrorOut(BaseModel):
    fileloc: str
    error: str
    created_at: datetime


def _summary(dag: stored_dags.Dag, recent: list[runs.Run]) -> dict[str, Any]:
    return {
        "dag_id": dag.dag_id,
        "is_paused": dag.is_paused,
        "is_active": dag.is_active,
        "team": dag.team,
        "tags": list(dag.tags),
        "fileloc": dag.fileloc,
        "description": dag.description,
        "schedule": dag.schedule_summary,
        "next_dagrun_logical_date": dag.next_dagrun_logical_date,
        "next_dagrun_create_after": dag.next_dagrun_create_after,
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "latest_version_id": dag.latest_version_id,
        "last_parsed_at": dag.last_parsed_at,
        "recent_runs": [RunSummary.of(r) for r in recent],
    }


@router.get("", response_model=Page[DagSummary])
def list_dags(
    cfg: Config,
    principal: AsViewer,
    paging: PagingParams,
    tags: Annotated[list[str] | None, Query(description="Only DAGs with all these tags.")] = None,
    paused: Annotated[bool | None, Query(description="Only paused (or unpaused) DAGs.")] = None,
    dag_id_pattern: Annotated[
        str | None, Query(max_length=250, description="Only DAGs whose id contains this.")
    ] = None,
    only_active: Annotated[bool, Query(description="Hide DAGs whose file is gone.")] = True,
) -> Page[DagSummary]:
    """DAGs by id, each with its latest runs."""
    where = stored_dags.DagFilter(
        teams=principal.team_scope,
        paused=paused,
        only_active=only_active,
        id_contains=dag_id_pattern,
        tags=frozenset(tags or ()),
    )
    with cfg.read() as session:
        found, total = stored_dags.page(session, where, limit=paging.limit, offset=paging.offset)
        recent = runs.latest_of_dags(session, [d.dag_id for d in found], RECENT_RUNS)
    items = [DagSummary(**_summary(dag, recent[dag.dag_id])) for dag in found]
    return Page.of(items, total, paging)


def _detail(session: Session, row: stored_dags.Dag) -> DagDetail:
    recent = runs.latest_of_dags(session, [row.dag_id], RECENT_RUNS)[row.dag_id]
    version = stored_dags.latest_version(session, row.dag_id)
    dag = SerializedDag.from_json(version.serialized) if version else None
    tasks = []
    if dag is not None:
        for task_id in dag.order:
            task = dag.tasks[task_id]
            tasks.append(
                TaskStructure(
                    task_id=task_id,
                    operator=task.operator,
                    upstream=list(task.upstream),
                    downstream=list(task.downstream),
                    trigger_rule=task.trigger_rule.value,
                    retries=task.retries,
                    pool=task.pool,
                    queue=task.queue,
                    priority_weight=task.priority_weight,
                    group=task.group,
                    is_mapped=task.is_mapped,
                    doc_md=task.doc_md,
                    fields=dict(task.fields),
                )
            )
    return DagDetail(
        **_summary(row, recent),
        version_hash=version.version_hash if version else None,
        timezone=dag.timezone if dag else None,
        catchup=dag.catchup if dag else None,
        start_date=dag.start_date if dag else None,
        doc_md=dag.doc_md if dag else None,
        params={k: dict(v) for k, v in dag.params.items()} if dag else {},
        order=list(dag.order) if dag else [],
        tasks=tasks,
        task_groups={k: dict(v) for k, v in dag.task_groups.items()} if dag else {},
    )


@router.get("/import-errors", response_model=Page[ImportErrorOut])
def list_import_errors(
    cfg: Config, principal: AsViewer, paging: PagingParams
) -> Page[ImportErrorOut]:
    """Files of the DAGs folder that failed to import, and why."""
    with cfg.read() as session:
        found = import_errors.list_all(session)
    items = [
        ImportErrorOut(fileloc=e.fileloc, error=e.error, created_at=e.created_at) for e in found
    ]
    return Page.of(items[paging.offset : paging.offset + paging.limit], len(items), paging)


@router.get("/{dag_id}", response_model=DagDetail, responses=_NOT_FOUND)
def get_dag(dag_id: str, cfg: Config, principal: AsViewer) -> DagDetail:
    """One DAG with its structure (tasks, dependencies, params) from its latest version."""
    with cfg.read() as session:
        return _detail(session, deps.visible_dag(session, principal, dag_id))


@router.patch("/{dag_id}", response_model=DagDetail, responses=_NOT_FOUND)
def patch_dag(dag_id: str, body: DagPatch, cfg: Config, principal: AsUser) -> DagDetail:
    """Pause or unpause a DAG (paused: no scheduled runs; triggered runs still run)."""
    with cfg.write() as session:
        deps.visible_dag(session, principal, dag_id)
        stored_dags.set_paused(session, dag_id, body.is_paused)
        detail = _detail(session, deps.visible_dag(session, principal, dag_id))
        wakeups.announce(session)  # schedulers on other machines, at the commit
    wakeups.notify(cfg.home)
    return detail


@router.get("/{dag_id}/versions", response_model=Page[DagVersionOut], responses=_NOT_FOUND)
def list_versions(
    dag_id: str, cfg: Config, principal: AsViewer, paging: PagingParams
) -> Page[DagVersionOut]:
    """The DAG's stored versions, newest first."""
    with cfg.read() as session:
        deps.visible_dag(session, principal, dag_id)
        found, total = stored_dags.versions_page(
            session, dag_id, limit=paging.limit, offset=paging.offset
        )
    items = [
        DagVersionOut(
            id=v.id, version_hash=v.version_hash, fileloc=v.fileloc, created_at=v.created_at
        )
        for v in found
    ]
    return Page.of(items, total, paging)


@router.get(
    "/{dag_id}/versions/{version_id}/source", response_model=DagSource, responses=_NOT_FOUND
)
def get_source(
    dag_id: str,
    version_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    cfg: Config,
    principal: AsViewer,
) -> DagSource:
    """The code of the DAG file as stored with one version."""
    with cfg.read() as session:
        deps.visible_dag(session, principal, dag_id)
        row = stored_dags.version(session, dag_id, version_id)
        if row is None:
            raise errors.NotFound(f"DAG {dag_id!r} has no version {version_id}")
        return DagSource(
            version_id=row.id,
            version_hash=row.version_hash,
            fileloc=row.fileloc,
            source_code=row.source_code,
        )
