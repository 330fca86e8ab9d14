"""The execution API: what a remote worker, which holds no database credentials, needs to
run one try: claim it, fetch its DAG's code, heartbeat, pull XComs, report its end.

Every endpoint is one short transaction on the hot path (each try calls start, end and a
heartbeat per interval). State changes go through ``scheduler.outcomes``, the functions the
scheduler applies its local executor's events with, so the two paths cannot drift.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from gnomon.api import errors
from gnomon.api.execution_deps import (
    AnyToken,
    ExecutionState,
    RunToken,
    StartToken,
    State,
    TryId,
    check_token,
)
from gnomon.events import wakeups
from gnomon.executors.base import TryEnded, TryStarted
from gnomon.runtime.protocol import TryOutcome
from gnomon.scheduler import outcomes, queueing
from gnomon.semantics.states import HOLDS_SLOT, TaskState
from gnomon.store import bundles, execution, tries, xcoms
from gnomon.store.columns import utcnow
from gnomon.store.models import ID_LEN, PATH_LEN

router = APIRouter(prefix="/tries/{try_id}", tags=["execution"], responses=errors.RESPONSES)

_ERROR = errors.ErrorOut
Sha256 = Annotated[str, PathParam(pattern="^[0-9a-f]{64}$", description="A file's sha256 (hex).")]


class StartIn(BaseModel):
    hostname: str = Field(min_length=1, max_length=1000)
    #: The process that supervises the try (the try itself is forked from it).
    pid: int = Field(ge=0, le=2**31 - 1)
    worker: str = Field(min_length=1, max_length=1000)
    #: Where the try's log can be read while it runs (the worker's log server).
    log_location: str | None = Field(default=None, max_length=PATH_LEN)
    #: When the worker claimed the try. A start repeated with the same claim (its answer was
    #: lost) is answered again instead of refused.
    started_at: AwareDatetime | None = None


class TryRequestOut(BaseModel):
    """``runtime.protocol.TryRequest``: what the try process runs."""

    dag_id: str
    task_id: str
    map_index: int
    try_number: int
    run_id: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    conf: dict[str, Any]
    params: dict[str, Any]
    run_type: str
    max_tries: int


class BundleOut(BaseModel):
    hash: str
    #: Path relative to the DAGs folder -> sha256 of its content (``GET .../files/{sha256}``).
    files: dict[str, str]


class TokenOut(BaseModel):
    #: The run token: send it with every later request about this try.
    token: str
    token_expires_in: float


class StartOut(TokenOut):
    heartbeat_interval: float
    request: TryRequestOut
    dag_id: str
    dag_version_id: int
    version_hash: str
    #: The DAG file's path relative to the DAGs folder (versions made before bundles: its
    #: name, for the stored source).
    fileloc: str
    #: The DAGs folder's files the version was made from; null: fetch ``/source`` instead.
    bundle: BundleOut | None
    #: The task's execution_timeout in seconds.
    timeout: float | None
    xcom_max_bytes: int | None


class SourceOut(BaseModel):
    source: str


class XComValuesOut(BaseModel):
    #: Map index (-1: not mapped) -> value.
    values: dict[int, Any]


class OutcomeIn(BaseModel):
    """``runtime.protocol.TryOutcome``: how the try ended."""

    state: Literal["success", "failed", "skipped"]
    exit_reason: str = Field(min_length=1)
    retryable: bool = True
    error: str | None = None
    xcoms: dict[str, Any] = Field(default_factory=dict)
    xcom_lengths: dict[str, int | None] = Field(default_factory=dict)
    skip: list[Annotated[str, Field(max_length=ID_LEN)]] = Field(default_factory=list)

    def to_outcome(self) -> TryOutcome:
        return TryOutcome(
            state=TaskState(self.state),
            exit_reason=self.exit_reason,
            retryable=self.retryable,
            error=self.error,
            xcoms=self.xcoms,
            xcom_lengths=self.xcom_lengths,
            skip=tuple(self.skip),
        )


class NextStartIn(StartIn):
    """The start of another try, made once the end is recorded: a worker running several
    tries one after another claims the next with the report of the last."""

    try_id: int = Field(ge=1, le=2**63 - 1)
    #: That try's start token.
    token: str = Field(min_length=1, max_length=4096)


class EndIn(BaseModel):
    outcome: OutcomeIn
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime
    #: The try's own process.
    pid: int | None = Field(default=None, ge=0, le=2**31 - 1)
    #: Where the try's log is kept now that it ended (the log store).
    log_location: str | None = Field(default=None, max_length=PATH_LEN)
    #: Start this try next (as ``POST /tries/{next.try_id}/start`` would).
    next: NextStartIn | None = None


class NextStartOut(BaseModel):
    """What ``POST /tries/{try_id}/start`` would have answered for the ``next`` try."""

    try_id: int
    #: 200, or the error's status (401, 403, 404, 409, 503).
    status: int
    #: The start's answer, if 200.
    start: StartOut | None = None
    #: Why not, if not 200.
    detail: str | None = None


class EndOut(BaseModel):
    #: The state the try was recorded in.
    state: TaskState
    #: The answer to ``next``; only if it was sent.
    next: NextStartOut | None = None


Responses = dict[int | str, dict[str, Any]]
_GONE: Responses = {404: {"model": _ERROR, "description": "The try does not exist (any more)"}}
_CONFLICT: Responses = {
    409: {"model": _ERROR, "description": "The try is not in a state that allows it"}
}
_UNAVAILABLE: Responses = {
    503: {"model": _ERROR, "description": "The database is unreachable: retry"}
}


def _json(answer: BaseModel) -> Response:
    """The answer as FastAPI serializes a route's ``response_model`` (pydantic's JSON), made
    here: for a plain ``def`` endpoint, FastAPI validates what it returns in another hand-off
    to the thread pool, which on the hot path costs more than the serialization. Fields
    left unset are left out (an end's ``next`` when none was asked)."""
    return Response(answer.model_dump_json(exclude_unset=True), media_type="application/json")


def _not_found(try_id: int) -> errors.NotFound:
    return errors.NotFound(
        f"try {try_id} does not exist: its run was deleted, or the scheduler took it back "
        "before it started; drop it"
    )


@router.post("/start", response_model=StartOut, responses={**_GONE, **_CONFLICT, **_UNAVAILABLE})
def start_try(try_id: TryId, body: StartIn, claims: StartToken, state: State) -> Response:
    """Claim the queued try (``queued -> running``, once: a second start is refused with 409,
    so a message the broker delivers twice runs once) and learn what to run."""
    with state.config.write() as session:
        return _json(_start(session, try_id, body, state, execution.try_in_run(session, try_id)))


def _start(
    session: Session,
    try_id: int,
    body: StartIn,
    state: ExecutionState,
    found: execution.TryInRun | None,
) -> StartOut:
    """The start in ``session``'s transaction, of the try as read in it (``found``). A
    refusal (404, 409) changes nothing in it."""
    cfg = state.config
    now = utcnow()
    if found is None:
        raise _not_found(try_id)
    attempt = found.attempt
    repeated = (
        attempt.state is TaskState.RUNNING
        and body.started_at is not None
        and (attempt.start_date, attempt.hostname, attempt.pid, attempt.worker)
        == (body.started_at, body.hostname, body.pid, body.worker)
    )
    if not repeated:
        event = TryStarted(
            try_id,
            body.pid,
            body.hostname,
            body.worker,
            body.started_at or now,
            log_location=body.log_location,
        )
        started = outcomes.started(
            session, event, now, state.versions, known=found, ends=state.upstream_ends
        )
        if not started:
            was = "started by another worker" if attempt.state is TaskState.QUEUED else None
            raise errors.Conflict(
                f"try {try_id} is not queued ({was or attempt.state.value}): it was started "
                "already, ended, or taken back; do not run it"
            )
    version = state.versions.get(session, found.run.dag_version_id)
    bundle = state.bundle(session, version.id)
    task = version.dag.tasks[found.instance.task_id]
    request = queueing.try_request(found.run, found.instance, attempt.try_number)
    answer = StartOut(
        token=state.run_token(try_id),
        token_expires_in=cfg.execution_token_lifetime,
        heartbeat_interval=cfg.heartbeat_interval,
        request=TryRequestOut.model_validate(request.to_json()),
        dag_id=version.dag_id,
        dag_version_id=version.id,
        version_hash=version.version_hash,
        fileloc=version.relative_fileloc or PurePosixPath(version.fileloc).name,
        bundle=None if bundle is None else BundleOut(hash=bundle.hash, files=dict(bundle.files)),
        timeout=task.execution_timeout.total_seconds() if task.execution_timeout else None,
        xcom_max_bytes=cfg.xcom_max_bytes,
    )
    return answer


def _start_next(
    session: Session, body: NextStartIn, state: ExecutionState, found: execution.TryInRun | None
) -> NextStartOut:
    """``_start`` for an end's ``next``, in the end's transaction, its refusal answered
    in the body: a refused start changes nothing, so the end is recorded all the same."""
    try:
        check_token(state, body.token, body.try_id, ("start",))
        answer = _start(session, body.try_id, body, state, found)
    except errors.ApiError as exc:
        return NextStartOut(try_id=body.try_id, status=exc.status_code, detail=str(exc.detail))
    return NextStartOut(try_id=body.try_id, status=200, start=answer)


@router.get("/source", response_model=SourceOut, responses={**_GONE, **_UNAVAILABLE})
def get_source(try_id: TryId, claims: AnyToken, state: State) -> SourceOut:
    """The source of the DAG file as it was when the try's DAG version was made."""
    with state.config.read() as session:
        owner = execution.owner(session, try_id)
        if owner is None:
            raise _not_found(try_id)
        source = execution.source_code(session, owner.dag_version_id)
    if source is None:
        raise errors.NotFound(f"DAG version {owner.dag_version_id} of try {try_id} has no source")
    return SourceOut(source=source)


@router.get(
    "/files/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, **_GONE, **_UNAVAILABLE},
)
def get_file(try_id: TryId, sha256: Sha256, claims: AnyToken, state: State) -> Response:
    """One file of the try's bundle, by content hash; no other file is served."""
    with state.config.read() as session:
        owner = execution.owner(session, try_id)
        if owner is None:
            raise _not_found(try_id)
        bundle = state.bundle(session, owner.dag_version_id)
        if bundle is None:
            raise errors.NotFound(
                f"the DAG version of try {try_id} has no bundle: read GET .../source instead"
            )
        if sha256 not in bundle.files.values():
            raise errors.Forbidden(f"file {sha256} is not in the bundle of try {try_id}")
        content = bundles.file_content(session, sha256)
    if content is None:
        raise errors.NotFound(f"file {sha256} of bundle {bundle.hash} is not stored")
    return Response(content, media_type="application/octet-stream")


@router.post("/heartbeat", response_model=TokenOut, responses={**_CONFLICT, **_UNAVAILABLE})
def heartbeat(try_id: TryId, claims: RunToken, state: State) -> Response:
    """The try is alive: record it and renew the run token. 409: the try is no longer
    running (failed as a zombie, marked by an operator): the worker must kill it."""
    with state.config.write() as session:
        alive = execution.beat(session, try_id, utcnow())
    if not alive:
        raise errors.Conflict(
            f"try {try_id} is not running any more (failed as a zombie, ended, or its task "
            "instance was marked by an operator): kill it"
        )
    lifetime = state.config.execution_token_lifetime
    return _json(TokenOut(token=state.run_token(try_id), token_expires_in=lifetime))


@router.get("/xcoms", response_model=XComValuesOut, responses={**_GONE, **_UNAVAILABLE})
def pull_xcoms(
    try_id: TryId,
    claims: RunToken,
    state: State,
    task_id: Annotated[str, Query(min_length=1, max_length=ID_LEN)],
    key: Annotated[str, Query(min_length=1, max_length=ID_LEN)],
) -> XComValuesOut:
    """What ``task_id`` pushed under ``key`` in the try's run, by map index."""
    with state.config.read() as session:
        owner = execution.owner(session, try_id)
        if owner is None:
            raise _not_found(try_id)
        return XComValuesOut(values=xcoms.pull(session, owner.run_pk, task_id, key))


@router.post("/end", response_model=EndOut, responses={**_GONE, **_CONFLICT, **_UNAVAILABLE})
def end_try(try_id: TryId, body: EndIn, claims: RunToken, state: State) -> Response:
    """Record how the try ended and what its task instance becomes (its retry decided by
    the control plane), then wake the schedulers. 409: it had ended already (a zombie sweep,
    an operator, or this same report repeated after its answer was lost): nothing to do,
    and ``next`` is not started (send its start alone). With ``next``, that try is started
    in the same transaction, after the end, and the answer carries what its start
    answered."""
    cfg = state.config
    outcome = body.outcome.to_outcome()
    event = TryEnded(
        try_id, outcome, body.pid, body.started_at, body.ended_at, log_location=body.log_location
    )
    following_id = None if body.next is None else body.next.try_id
    with cfg.write() as session:
        # The next try is read with this one (another try: another instance, rows the end
        # does not change); the same try again is read after its end.
        read = execution.tries_in_run(session, try_id, following_id or try_id)
        if try_id not in read:
            raise _not_found(try_id)
        found = (read[try_id].attempt, read[try_id].instance)
        run_pk = None
        ended_before = found[0].state not in HOLDS_SLOT
        if not ended_before:
            run_pk = outcomes.ended(session, state.versions, event, known=found, announce=True)
            ended_before = run_pk is None and not _recorded(session, try_id, event)
        if ended_before and body.log_location:
            # A try that ended elsewhere (``outcomes.ended`` recorded nothing): this is still
            # where its log is.
            execution.set_log_location(session, try_id, body.log_location)
        following = None
        if body.next is not None and not ended_before:
            following_read = (
                read.get(body.next.try_id)
                if body.next.try_id != try_id
                else execution.try_in_run(session, try_id)
            )
            following = _start_next(session, body.next, state, following_read)
    if run_pk is not None:
        wakeups.notify(cfg.home)
    if ended_before:
        raise errors.Conflict(f"try {try_id} had already ended: nothing to do")
    if following is None:
        return _json(EndOut(state=outcome.state))
    return _json(EndOut(state=outcome.state, next=following))


def _recorded(session: Session, try_id: int, event: TryEnded) -> bool:
    """Whether ``outcomes.ended`` recorded this report although it changed no instance (an
    operator had marked it): else another writer ended the try first."""
    session.expire_all()
    attempt = tries.get(session, try_id)
    return attempt is not None and attempt.end_date == event.ended_at
