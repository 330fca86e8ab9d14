"""Creating runs: on schedule (data intervals, catchup), by trigger, and by backfill."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exc, func, select
from sqlalchemy.orm import Session

from gnomon.authoring import params as params_module
from gnomon.exceptions import ParamValidationError
from gnomon.scheduler import clearing
from gnomon.scheduler.exceptions import DagNotFound, RunExists, SchedulerError
from gnomon.scheduler.versions import Version, VersionCache
from gnomon.semantics import timetables
from gnomon.semantics.states import RunState
from gnomon.store import locks, models, runs

#: Scheduled runs one DAG may get per scheduler pass (catchup over years proceeds in steps).
MAX_RUNS_PER_PASS = 32


def run_id_for(run_type: models.RunType, logical_date: datetime) -> str:
    return f"{run_type.value}__{timetables.utc(logical_date).isoformat()}"


def _latest(session: Session, cache: VersionCache, dag_id: str) -> tuple[models.Dag, Version]:
    row = session.get(models.Dag, dag_id)
    if row is None:
        raise DagNotFound(
            f"DAG {dag_id!r} is not known: is its file in the DAGs folder, and has the DAG "
            "processor parsed it? (`gnomon dags list-import-errors` shows files that failed)"
        )
    if row.latest_version_id is None:
        raise DagNotFound(f"DAG {dag_id!r} has no parsed version yet")
    return row, cache.get(session, row.latest_version_id)


def _new_run(
    version: Version,
    run_type: models.RunType,
    run_id: str,
    info: timetables.DagRunInfo,
    conf: Mapping[str, Any],
) -> runs.NewRun:
    try:
        params = params_module.resolve(version.dag.params, conf)
    except ParamValidationError as exc:
        raise SchedulerError(f"DAG {version.dag_id!r}: {exc}") from None
    return runs.NewRun(
        dag_id=version.dag_id,
        run_id=run_id,
        dag_version_id=version.id,
        run_type=run_type,
        logical_date=info.logical_date,
        data_interval_start=info.data_interval.start,
        data_interval_end=info.data_interval.end,
        run_after=info.run_after,
        conf=conf,
        params=params,
    )


def trigger(
    session: Session,
    cache: VersionCache,
    dag_id: str,
    *,
    now: datetime,
    conf: Mapping[str, Any] | None = None,
    logical_date: datetime | None = None,
    run_id: str | None = None,
) -> runs.Run:
    """Create a manual run of the DAG's latest version (paused or not).

    Its data interval is the one the schedule infers for ``logical_date`` (default: now).
    Invalid conf (against the DAG's params), a taken run id or logical date: SchedulerError,
    nothing written.
    """
    _, version = _latest(session, cache, dag_id)
    if conf is not None and not isinstance(conf, Mapping):
        raise SchedulerError(f"conf must be a JSON object, not {type(conf).__name__}")
    at = timetables.utc(logical_date or now)
    interval = version.timetable.infer_manual_data_interval(run_after=at)
    info = timetables.DagRunInfo(at, interval, at)
    rid = run_id or run_id_for(models.RunType.MANUAL, at)
    _check_run_id(rid)
    new = _new_run(version, models.RunType.MANUAL, rid, info, dict(conf or {}))
    try:
        return runs.create(session, new, version.dag, now=now)
    except runs.RunExists as exc:
        raise RunExists(str(exc)) from None


def _check_run_id(run_id: str) -> None:
    if not run_id or len(run_id) > models.ID_LEN or "/" in run_id or run_id.strip() != run_id:
        raise SchedulerError(
            f"invalid run id {run_id!r}: 1 to {models.ID_LEN} characters, no '/', no "
            "leading or trailing spaces"
        )


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    created: list[str]
    cleared: list[str]
    skipped: list[str]

    @property
    def run_ids(self) -> list[str]:
        return sorted(self.created + self.cleared + self.skipped)


def backfill(
    session: Session,
    cache: VersionCache,
    dag_id: str,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    rerun_failed: bool = False,
    conf: Mapping[str, Any] | None = None,
) -> BackfillPlan:
    """Create a backfill run for every interval whose logical date is in [start, end].

    Dates that already have a run keep it; with ``rerun_failed`` a failed one is cleared and
    runs again. Backfill runs run even when the DAG is paused.
    """
    _, version = _latest(session, cache, dag_id)
    if start > end:
        raise SchedulerError(f"--start {start.isoformat()} is after --end {end.isoformat()}")
    if not version.timetable.periodic:
        raise SchedulerError(
            f"DAG {dag_id!r} has schedule {version.timetable.summary}: only DAGs on a cron or "
            "timedelta schedule can be backfilled"
        )
    infos = timetables.iter_dagrun_infos_between(
        version.timetable, start, end, earliest=version.dag.start_date
    )
    if not infos:
        raise SchedulerError(
            f"DAG {dag_id!r} has no interval with a logical date between {start.isoformat()} "
            f"and {end.isoformat()}"
        )
    created: list[str] = []
    cleared: list[str] = []
    skipped: list[str] = []
    for info in infos:
        existing = session.scalar(
            select(models.DagRun).where(
                models.DagRun.dag_id == dag_id, models.DagRun.logical_date == info.logical_date
            )
        )
        if existing is None:
            rid = run_id_for(models.RunType.BACKFILL, info.logical_date)
            new = _new_run(version, models.RunType.BACKFILL, rid, info, dict(conf or {}))
            runs.create(session, new, version.dag, now=now)
            created.append(rid)
        elif rerun_failed and existing.state is RunState.FAILED:
            run = runs.Run.from_row(existing)
            clearing.clear(session, cache, run, only_failed=True, now=now)
            cleared.append(existing.run_id)
        else:
            skipped.append(existing.run_id)
    return BackfillPlan(created, cleared, skipped)


@dataclass(frozen=True, slots=True)
class DueRuns:
    #: When the next scheduled run is due (None: no DAG this pass examined has one coming).
    next_due: datetime | None
    #: Some DAGs were held by another transaction and not examined: try again shortly.
    contended: bool


def create_due_runs(session: Session, cache: VersionCache, now: datetime) -> DueRuns:
    """Create the scheduled runs that are due, for active unpaused DAGs, while each DAG has
    fewer than ``max_active_runs`` queued or running runs.

    Race it settles: two schedulers creating the same DAG's next run (the second would hit
    the unique key), or each creating one past ``max_active_runs``. Each DAG's row is locked
    first, skipping DAGs another transaction holds, and its runs are counted after that.
    """
    eligible = (
        models.Dag.is_paused.is_(False),
        models.Dag.is_active.is_(True),
        models.Dag.latest_version_id.is_not(None),
    )
    stmt = select(models.Dag).where(*eligible).order_by(models.Dag.dag_id)
    stmt = locks.skip_locked(session, stmt)
    dags = session.scalars(stmt.execution_options(populate_existing=True)).all()
    contended = False
    if locks.contended(session):
        total = session.scalar(select(func.count()).select_from(models.Dag).where(*eligible))
        contended = (total or 0) > len(dags)
    active = runs.counts_per_dag(session)
    next_due: datetime | None = None
    for dag_row in dags:
        assert dag_row.latest_version_id is not None
        version = cache.get(session, dag_row.latest_version_id)
        if not version.timetable.periodic and version.timetable.kind != "once":
            continue
        restriction = timetables.TimeRestriction(
            version.dag.start_date, version.dag.end_date, version.dag.catchup
        )
        count = active.get(dag_row.dag_id, 0)
        last = _last_automated_interval(session, dag_row.dag_id)
        for _ in range(MAX_RUNS_PER_PASS):
            info = version.timetable.next_dagrun_info(
                last_automated_data_interval=last, restriction=restriction, now=now
            )
            _set_next(dag_row, info)
            if info is None:
                break
            if info.run_after > now:
                next_due = info.run_after if next_due is None else min(next_due, info.run_after)
                break
            if count >= dag_row.max_active_runs:
                break
            rid = run_id_for(models.RunType.SCHEDULED, info.logical_date)
            new = _new_run(version, models.RunType.SCHEDULED, rid, info, {})
            try:
                with session.begin_nested():
                    runs.create(session, new, version.dag, now=now)
                count += 1
            except (runs.RunExists, exc.IntegrityError):
                pass  # a manual or backfill run holds this date: the schedule moves past it
            last = info.data_interval
    return DueRuns(next_due, contended)


def _last_automated_interval(session: Session, dag_id: str) -> timetables.DataInterval | None:
    row = session.execute(
        select(models.DagRun.data_interval_start, models.DagRun.data_interval_end)
        .where(
            models.DagRun.dag_id == dag_id,
            models.DagRun.run_type == models.RunType.SCHEDULED,
        )
        .order_by(models.DagRun.logical_date.desc())
        .limit(1)
    ).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    return timetables.DataInterval(row[0], row[1])


def _set_next(row: models.Dag, info: timetables.DagRunInfo | None) -> None:
    if info is None:
        row.next_dagrun_logical_date = None
        row.next_dagrun_create_after = None
        return
    row.next_dagrun_logical_date = info.logical_date
    row.next_dagrun_data_interval_start = info.data_interval.start
    row.next_dagrun_data_interval_end = info.data_interval.end
    row.next_dagrun_create_after = info.run_after
