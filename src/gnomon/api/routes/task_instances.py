"""Task instances of a run, their tries, XComs and logs (plain and streamed)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from gnomon import access
from gnomon.api import errors, logs, lookups, schemas
from gnomon.api.config import ApiConfig
from gnomon.api.deps import AsViewer, Config
from gnomon.api.pagination import Page, PagingParams
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import IN_FLIGHT, TaskState
from gnomon.store import runs, task_instances, tries, xcoms

router = APIRouter(
    prefix="/dags/{dag_id}/runs/{run_id}/tasks/{task_id}",
    tags=["task instances"],
    responses=errors.RESPONSES,
)

MapIndex = Annotated[int, Query(ge=-1, le=2**31 - 1, description="The map index (-1: not mapped).")]
Offset = Annotated[int, Query(ge=0, le=2**62, description="The byte to read from.")]
TryNumber = Annotated[int, Path(ge=1, le=2**31 - 1, description="The try, from 1.")]


@dataclass(frozen=True, slots=True)
class InstancePath:
    """The task instance a request's path and ``map_index`` name."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int

    def find(
        self, session: Session, principal: access.Principal
    ) -> tuple[runs.Run, task_instances.TI]:
        """Its run and the instance itself, if the caller may see the DAG; else 404."""
        run = lookups.visible_run(session, principal, self.dag_id, self.run_id)
        return run, lookups.instance(session, run, self.task_id, self.map_index)


def _instance_path(
    dag_id: str, run_id: str, task_id: str, map_index: MapIndex = -1
) -> InstancePath:
    return InstancePath(dag_id, run_id, task_id, map_index)


Instance = Annotated[InstancePath, Depends(_instance_path)]

#: How often the log stream looks for more.
STREAM_POLL = 0.2


class TryOut(BaseModel):
    try_number: int
    state: TaskState
    hostname: str | None
    pid: int | None
    worker: str | None
    queue: str | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    exit_reason: str | None
    error: str | None
    log_location: str | None

    @classmethod
    def of(cls, t: tries.Try) -> TryOut:
        return cls(
            try_number=t.try_number,
            state=t.state,
            hostname=t.hostname,
            pid=t.pid,
            worker=t.worker,
            queue=t.queue,
            start_date=t.start_date,
            end_date=t.end_date,
            duration=schemas.seconds_between(t.start_date, t.end_date),
            exit_reason=t.exit_reason,
            error=t.error,
            log_location=t.shown_log_location,
        )


class TaskInstanceOut(BaseModel):
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: TaskState
    try_number: int
    max_tries: int
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    hostname: str | None
    pid: int | None
    pool: str
    queue: str
    priority_weight: int
    operator: str | None
    note: str | None
    #: The task's arguments as the run's DAG version serialized them (templates unrendered).
    fields: dict[str, Any]
    tries: list[TryOut]


class XComOut(BaseModel):
    key: str
    map_index: int
    value: Any


class LogChunk(BaseModel):
    content: str
    next_offset: int
    #: The try has finished and ``next_offset`` is the end of its log.
    complete: bool
    #: Why nothing could be read just now (the worker holding the log is unreachable...).
    notice: str | None = None


@router.get("", response_model=TaskInstanceOut)
def get_task_instance(where: Instance, cfg: Config, principal: AsViewer) -> TaskInstanceOut:
    """One task instance, its task's fields and its tries."""
    with cfg.read() as session:
        run, ti = where.find(session, principal)
        task = VersionCache().get(session, run.dag_version_id).dag.tasks.get(ti.task_id)
        attempts = tries.of_instances(session, [ti.id]).get(ti.id, [])
    return TaskInstanceOut(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        state=ti.state,
        try_number=ti.try_number,
        max_tries=ti.max_tries,
        queued_at=ti.queued_at,
        start_date=ti.start_date,
        end_date=ti.end_date,
        duration=ti.duration,
        hostname=ti.hostname,
        pid=ti.pid,
        pool=ti.pool,
        queue=ti.queue,
        priority_weight=ti.priority_weight,
        operator=task.operator if task else None,
        note=ti.note,
        fields=dict(task.fields) if task else {},
        tries=[TryOut.of(t) for t in attempts],
    )


@router.get("/tries", response_model=Page[TryOut])
def list_tries(
    where: Instance, cfg: Config, principal: AsViewer, paging: PagingParams
) -> Page[TryOut]:
    """The instance's tries, first first."""
    with cfg.read() as session:
        _, ti = where.find(session, principal)
        attempts = tries.of_instances(session, [ti.id]).get(ti.id, [])
    chosen = attempts[paging.offset : paging.offset + paging.limit]
    return Page.of([TryOut.of(t) for t in chosen], len(attempts), paging)


@router.get("/tries/{try_number}", response_model=TryOut)
def get_try(where: Instance, try_number: TryNumber, cfg: Config, principal: AsViewer) -> TryOut:
    """One try: where it ran, when, how it ended, where its log is."""
    with cfg.read() as session:
        _, ti = where.find(session, principal)
        return TryOut.of(lookups.attempt(session, ti, try_number))


@router.get("/xcoms", response_model=Page[XComOut])
def list_xcoms(
    where: Instance, cfg: Config, principal: AsViewer, paging: PagingParams
) -> Page[XComOut]:
    """What the instance pushed, by key."""
    with cfg.read() as session:
        run, ti = where.find(session, principal)
        found, total = xcoms.of_instance(
            session, run.id, ti.task_id, ti.map_index, limit=paging.limit, offset=paging.offset
        )
    items = [XComOut(key=x.key, map_index=x.map_index, value=x.value) for x in found]
    return Page.of(items, total, paging)


def _read_log(
    cfg: ApiConfig, principal: access.Principal, where: InstancePath, try_number: int, offset: int
) -> LogChunk:
    with cfg.read() as session:
        _, ti = where.find(session, principal)
        attempt = lookups.attempt(session, ti, try_number)
    finished = attempt.state not in IN_FLIGHT
    if attempt.log_location is None:
        return LogChunk(content="", next_offset=offset, complete=finished)
    found = logs.read(
        attempt.log_location,
        offset,
        final=finished,
        storage_options=cfg.log_storage_options,
    )
    return LogChunk(
        content=found.chunk.content,
        next_offset=found.chunk.next_offset,
        complete=finished and found.chunk.at_end,
        notice=found.notice,
    )


@router.get("/tries/{try_number}/logs", response_model=LogChunk)
def get_log(
    where: Instance,
    try_number: TryNumber,
    cfg: Config,
    principal: AsViewer,
    offset: Offset = 0,
) -> LogChunk:
    """The try's log from byte ``offset`` (at most 1 MiB); go on from ``next_offset``."""
    return _read_log(cfg, principal, where, try_number, offset)


@router.get(
    "/tries/{try_number}/logs/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_log(
    where: Instance,
    try_number: TryNumber,
    cfg: Config,
    principal: AsViewer,
    offset: Offset = 0,
) -> StreamingResponse:
    """The try's log as server-sent events: ``data: {"content", "next_offset"}`` as it
    grows, then ``event: end`` once the try has finished and all of it was sent;
    ``event: notice`` (``data: {"notice"}``) when it cannot be reached just now."""
    # The first read answers 404 before the stream starts if the try does not exist.
    first = _read_log(cfg, principal, where, try_number, offset)

    async def events() -> AsyncIterator[str]:
        chunk = first
        notice = None
        while True:
            if chunk.notice and chunk.notice != notice:
                yield f"event: notice\ndata: {json.dumps({'notice': chunk.notice})}\n\n"
            notice = chunk.notice
            if chunk.content:
                data = {"content": chunk.content, "next_offset": chunk.next_offset}
                yield f"data: {json.dumps(data)}\n\n"
            if chunk.complete:
                yield f"event: end\ndata: {json.dumps({'next_offset': chunk.next_offset})}\n\n"
                return
            if not chunk.content:
                await anyio.sleep(STREAM_POLL)
            chunk = await anyio.to_thread.run_sync(
                _read_log, cfg, principal, where, try_number, chunk.next_offset
            )

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
