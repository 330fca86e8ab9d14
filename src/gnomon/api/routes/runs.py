"""DAG runs: list (one DAG's or every visible DAG's), trigger, detail, clear, mark."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from gnomon import access
from gnomon.api import deps, errors, lookups
from gnomon.api.deps import AsUser, AsViewer, Config
from gnomon.api.pagination import Page, Paging, PagingParams
from gnomon.api.schemas import RunSummary
from gnomon.events import wakeups
from gnomon.scheduler import clearing, creation, marking
from gnomon.scheduler.exceptions import DagNotFound, RunExists, SchedulerError
from gnomon.scheduler.reports import run_report
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics import timetables
from gnomon.semantics.states import RunState, TaskState
from gnomon.store import dags as stored_dags
from gnomon.store import runs, task_instances

router = APIRouter(tags=["runs"], responses=errors.RESPONSES)

StateFilter = Annotated[
    list[RunState] | None, Query(description="Only runs in these states (repeatable).")
]
AfterFilter = Annotated[
    datetime | None, Query(description="Only runs due at or after this (naive = UTC).")
]
BeforeFilter = Annotated[
    datetime | None, Query(description="Only runs due at or before this (naive = UTC).")
]


class TriggerBody(BaseModel):
    conf: dict[str, Any] | None = None
    logical_date: datetime | None = None
    run_id: str | None = Field(default=None, max_length=250)


class TryReport(BaseModel):
    try_number: int
    state: TaskState
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    exit_reason: str | None
    error: str | None
    hostname: str | None
    pid: int | None
    worker: str | None
    queue: str | None
    log: str | None


class TaskReport(BaseModel):
    task_id: str
    map_index: int
    state: TaskState
    try_number: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    note: str | None
    tries: list[TryReport]


class RunDetail(RunSummary):
    """The run with its task instances and their tries (``gnomon runs show --output json``)."""

    tasks: list[TaskReport]


class ClearBody(BaseModel):
    task_ids: list[str] | None = None
    include_downstream: bool = False
    only_failed: bool = False
    dry_run: bool = False


class MarkBody(BaseModel):
    state: Literal["success", "failed"]
    task_ids: list[str] | None = None
    include_downstream: bool = False
    dry_run: bool = False


class ChangedInstance(BaseModel):
    task_id: str
    map_index: int
    #: Its state before the change.
    state: TaskState


class ChangeReport(BaseModel):
    dry_run: bool
    task_instances: list[ChangedInstance]


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else timetables.utc(value)


def _page(
    cfg: Config,
    paging: Paging,
    dag_ids: list[str] | None,
    state: list[RunState] | None,
    after: datetime | None,
    before: datetime | None,
) -> Page[RunSummary]:
    with cfg.read() as session:
        found, total = runs.page(
            session,
            dag_ids=dag_ids,
            states=state,
            after=_utc(after),
            before=_utc(before),
            limit=paging.limit,
            offset=paging.offset,
        )
    return Page.of([RunSummary.of(r) for r in found], total, paging)


@router.get("/dags/{dag_id}/runs", response_model=Page[RunSummary])
def list_dag_runs(
    dag_id: str,
    cfg: Config,
    principal: AsViewer,
    paging: PagingParams,
    state: StateFilter = None,
    run_after_gte: AfterFilter = None,
    run_after_lte: BeforeFilter = None,
) -> Page[RunSummary]:
    """The DAG's runs, newest first (by when they were due)."""
    with cfg.read() as session:
        deps.visible_dag(session, principal, dag_id)
    return _page(cfg, paging, [dag_id], state, run_after_gte, run_after_lte)


@router.get("/runs", response_model=Page[RunSummary])
def list_runs(
    cfg: Config,
    principal: AsViewer,
    paging: PagingParams,
    dag_id: Annotated[list[str] | None, Query(description="Only these DAGs (repeatable).")] = None,
    state: StateFilter = None,
    run_after_gte: AfterFilter = None,
    run_after_lte: BeforeFilter = None,
) -> Page[RunSummary]:
    """Runs of every DAG the caller may see, newest first."""
    dag_ids = _visible_dag_ids(cfg, principal, dag_id)
    return _page(cfg, paging, dag_ids, state, run_after_gte, run_after_lte)


def _visible_dag_ids(
    cfg: Config, principal: access.Principal, wanted: list[str] | None
) -> list[str] | None:
    if principal.is_admin and not wanted:
        return None
    where = stored_dags.DagFilter(teams=principal.team_scope, only_active=False)
    with cfg.read() as session:
        return stored_dags.ids(session, where, among=wanted)


@router.post("/dags/{dag_id}/runs", response_model=RunSummary)
def trigger_run(dag_id: str, body: TriggerBody, cfg: Config, principal: AsUser) -> RunSummary:
    """Create a manual run of the DAG's latest version now (also when the DAG is paused)."""
    try:
        with cfg.write() as session:
            deps.visible_dag(session, principal, dag_id)
            run = creation.trigger(
                session,
                VersionCache(),
                dag_id,
                now=datetime.now(UTC),
                conf=body.conf,
                logical_date=_utc(body.logical_date),
                run_id=body.run_id,
            )
            wakeups.announce(session)  # schedulers on other machines, at the commit
    except DagNotFound as exc:
        raise errors.NotFound(str(exc)) from None
    except RunExists as exc:
        raise errors.Conflict(str(exc)) from None
    except SchedulerError as exc:
        raise errors.Invalid(str(exc)) from None
    wakeups.notify(cfg.home)
    return RunSummary.of(run)


@router.get("/dags/{dag_id}/runs/{run_id}", response_model=RunDetail)
def get_run(dag_id: str, run_id: str, cfg: Config, principal: AsViewer) -> RunDetail:
    """One run with each task instance and its tries."""
    with cfg.read() as session:
        run = lookups.visible_run(session, principal, dag_id, run_id)
        report = run_report(session, run)
    return RunDetail(**RunSummary.of(run).model_dump(), tasks=report["tasks"])


def _changes(dry_run: bool, instances: list[task_instances.TI]) -> ChangeReport:
    ordered = sorted(instances, key=lambda ti: (ti.task_id, ti.map_index))
    return ChangeReport(
        dry_run=dry_run,
        task_instances=[
            ChangedInstance(task_id=ti.task_id, map_index=ti.map_index, state=ti.state)
            for ti in ordered
        ],
    )


@router.post("/dags/{dag_id}/runs/{run_id}/clear", response_model=ChangeReport)
def clear_run(
    dag_id: str, run_id: str, body: ClearBody, cfg: Config, principal: AsUser
) -> ChangeReport:
    """Reset task instances so they run again (all of the run's by default); queued and
    running ones are left alone. With ``dry_run``, only say which would be reset."""
    cache = VersionCache()
    try:
        with cfg.write() as session:
            run = lookups.visible_run(session, principal, dag_id, run_id)
            plan = clearing.plan(
                session,
                cache,
                run,
                task_ids=body.task_ids or (),
                downstream=body.include_downstream,
                only_failed=body.only_failed,
            )
            if body.dry_run:
                return _changes(True, plan.affected)
            cleared = set(clearing.apply(session, cache, run, plan, now=datetime.now(UTC)))
            wakeups.announce(session)
    except SchedulerError as exc:
        raise errors.Invalid(str(exc)) from None
    wakeups.notify(cfg.home)
    done = [ti for ti in plan.affected if ti.key in cleared or ti.task_id in plan.collapse]
    return _changes(False, done)


@router.post("/dags/{dag_id}/runs/{run_id}/mark", response_model=ChangeReport)
def mark_run(
    dag_id: str, run_id: str, body: MarkBody, cfg: Config, principal: AsUser
) -> ChangeReport:
    """Set task instances (or, without ``task_ids``, the whole run and its unfinished
    instances) to success or failed. A running try is not killed: it runs on, and its
    report is ignored."""
    cache = VersionCache()
    state = TaskState(body.state)
    try:
        with cfg.write() as session:
            run = lookups.visible_run(session, principal, dag_id, run_id)
            if body.dry_run:
                chosen = marking.plan(
                    session,
                    cache,
                    run,
                    state,
                    task_ids=body.task_ids,
                    downstream=body.include_downstream,
                )
                return _changes(True, chosen)
            changed = marking.mark(
                session,
                cache,
                run,
                state,
                task_ids=body.task_ids,
                downstream=body.include_downstream,
                now=datetime.now(UTC),
            )
            wakeups.announce(session)
    except SchedulerError as exc:
        raise errors.Invalid(str(exc)) from None
    wakeups.notify(cfg.home)
    return _changes(False, changed)
