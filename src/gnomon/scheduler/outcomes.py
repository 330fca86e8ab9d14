"""Applying what executors report (a try started, a try ended) and what silence means
(zombies, tries orphaned by a dead scheduler), each through the guarded transitions."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from gnomon import metrics
from gnomon.events import wakeups
from gnomon.executors.base import SHUTDOWN_EXIT_REASON, TryEnded, TryStarted
from gnomon.runtime.protocol import TryOutcome
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics import retries
from gnomon.semantics.states import HOLDS_SLOT, TaskState
from gnomon.store import execution, models, runs, stats, task_instances, transitions, tries, xcoms


def started(
    session: Session,
    event: TryStarted,
    now: datetime,
    cache: VersionCache,
    *,
    known: execution.TryInRun | None = None,
    ends: stats.UpstreamEnds | None = None,
) -> bool:
    """The try's process is running: ``queued -> running`` for the try and its instance;
    True if this call moved it (a try starts once: a second start of the same try loses).
    Observes the hand-off latency of first tries (``gnomon_task_hop_seconds``), reading
    the task's upstream from ``cache`` (the caller's long-lived one: a version is loaded once).
    ``known``: the try with its instance and run, as the caller read them in this
    transaction (the execution API does, to answer), which are then not read again.
    ``ends``: the caller's long-lived ``stats.UpstreamEnds``, for the hop's upstream end.

    Race: the try was already given up (a zombie sweep, an operator) before its start was
    reported; the transitions lose and the late start changes nothing."""
    attempt = known.attempt if known is not None else tries.get(session, event.try_id)
    if attempt is None:
        return False
    won, moved = transitions.set_try_then_ti_state(
        session,
        event.try_id,
        attempt.task_instance_id,
        expected=TaskState.QUEUED,
        new=TaskState.RUNNING,
        try_fields={
            "start_date": event.started_at,
            "pid": event.pid,
            "hostname": event.hostname,
            "worker": event.worker,
            "heartbeat_at": now,
            **({"log_location": event.log_location} if event.log_location else {}),
        },
        ti_expected=TaskState.QUEUED,
        ti_new=TaskState.RUNNING,
        ti_fields={"start_date": event.started_at, "hostname": event.hostname, "pid": event.pid},
    )
    if won:
        metrics.TRIES_STARTED.inc()
        # A retry's or a cleared instance's start is not a hand-off: its upstream ended long
        # before, by design.
        if moved and attempt.try_number == 1:
            origin = (
                stats.instance_origin(session, attempt.task_instance_id)
                if known is None
                else stats.InstanceOrigin(
                    known.instance.task_id, known.run.id, known.run.dag_version_id
                )
            )
            if origin is not None:
                _observe_hop(session, cache, ends or stats.UpstreamEnds(), origin, event)
    return won


def _observe_hop(
    session: Session,
    cache: VersionCache,
    ends: stats.UpstreamEnds,
    origin: stats.InstanceOrigin,
    event: TryStarted,
) -> None:
    """From the latest end among the instance's upstream instances to its start; nothing for
    a task without upstream (its run's start is not a hand-off)."""
    task = cache.get(session, origin.dag_version_id).dag.tasks.get(origin.task_id)
    if task is None or not task.upstream:
        return
    latest = ends.latest(session, origin.run_pk, task.upstream)
    if latest is not None:
        # Clocks of different machines: a start "before" its upstream's end counts as 0.
        metrics.TASK_HOP_SECONDS.observe(max(0.0, (event.started_at - latest).total_seconds()))


def _observe_end(state: TaskState, started_at: datetime | None, ended_at: datetime) -> None:
    metrics.TRIES_ENDED.labels(state=state.value).inc()
    if started_at is not None:
        seconds = max(0.0, (ended_at - started_at).total_seconds())
        metrics.TRY_DURATION_SECONDS.labels(state=state.value).observe(seconds)


def ended(
    session: Session,
    cache: VersionCache,
    event: TryEnded,
    *,
    known: tuple[tries.Try, task_instances.TI] | None = None,
    announce: bool = False,
) -> int | None:
    """Record how the try ended and what its instance becomes; the run's pk if it changed.
    ``known``: the try and its instance as the caller read them in this transaction
    (``tries.with_instance``), which are then not read again. ``announce``: if the run
    changed, wake every scheduler at commit (``events.wakeups.announce``, with the same
    statement on Postgres).

    Race: a zombie sweep already failed this try (its heartbeat was late); the try's
    transition loses and the report is dropped, so the retry the sweep decided stands.
    """
    found = known or tries.with_instance(session, event.try_id)
    if found is None:
        return None
    attempt, ti = found
    outcome = event.outcome
    try_state = TaskState.FAILED if outcome.state is TaskState.FAILED else outcome.state
    # Decided before the try's transition, so both go in one statement where they can: the
    # instance's state only counts if the try's transition wins.
    ti_state, ti_fields = _instance_end(session, cache, ti, outcome, event.ended_at)
    failed = try_state is TaskState.FAILED
    notify = wakeups.notice(session, run_pk=ti.dag_run_id, failed=failed) if announce else None
    won, ti_won = transitions.set_try_then_ti_state(
        session,
        event.try_id,
        ti.id,
        expected=HOLDS_SLOT,
        new=try_state,
        try_fields={
            "end_date": event.ended_at,
            "exit_reason": outcome.exit_reason[:1000],
            "error": outcome.error,
            **({"start_date": event.started_at} if attempt.start_date is None else {}),
            **({"pid": event.pid} if attempt.pid is None else {}),
            **({"log_location": event.log_location} if event.log_location else {}),
        },
        ti_expected=HOLDS_SLOT,
        ti_new=ti_state,
        ti_fields=ti_fields,
        notify=notify,
    )
    if not won:
        return None
    _observe_end(try_state, attempt.start_date or event.started_at, event.ended_at)
    if not ti_won:
        return None
    return _instance_ended(session, ti, outcome, ti_state, event.ended_at)


def _finish_instance(
    session: Session,
    cache: VersionCache,
    ti: task_instances.TI,
    outcome: TryOutcome,
    ended_at: datetime,
) -> int | None:
    """The instance's state after its try ended, with its retry decided; its run's pk if
    it changed. ``ti`` may have been read before the try's transition in this transaction:
    what it says is only trusted as far as its own guarded transition wins."""
    new_state, fields = _instance_end(session, cache, ti, outcome, ended_at)
    won = transitions.set_ti_state(session, ti.id, expected=HOLDS_SLOT, new=new_state, **fields)
    if not won:
        return None
    return _instance_ended(session, ti, outcome, new_state, ended_at)


def _instance_end(
    session: Session,
    cache: VersionCache,
    ti: task_instances.TI,
    outcome: TryOutcome,
    ended_at: datetime,
) -> tuple[TaskState, dict[str, object]]:
    """The state and fields of an instance whose try ended so, its retry decided."""
    new_state = outcome.state
    fields: dict[str, object] = {"end_date": ended_at, "note": outcome.error}
    if ti.start_date is not None:
        fields["duration"] = (ended_at - ti.start_date).total_seconds()
    if outcome.state is TaskState.FAILED:
        if outcome.exit_reason == SHUTDOWN_EXIT_REASON:  # retried, no retry used up
            new_state = TaskState.UP_FOR_RETRY
            fields["retry_at"] = ended_at
            fields["max_tries"] = ti.max_tries + 1  # a shutdown does not use up a retry
        else:
            run = runs.get_by_pk(session, ti.dag_run_id)
            assert run is not None
            task = cache.get(session, run.dag_version_id).dag.tasks[ti.task_id]
            # max_tries, not the task's retries: a clear grants the instance more tries.
            policy = dataclasses.replace(retries.policy_of(task), retries=ti.max_tries - 1)
            decided = retries.after_failure(
                policy,
                ti.try_number,
                ended_at,
                retryable=outcome.retryable,
                seed=f"{ti.dag_id}.{ti.task_id}.{ti.map_index}",
            )
            new_state = decided.state
            fields["retry_at"] = decided.retry_at
    return new_state, fields


def _instance_ended(
    session: Session,
    ti: task_instances.TI,
    outcome: TryOutcome,
    new_state: TaskState,
    ended_at: datetime,
) -> int:
    """What follows an instance's end once its transition won; its run's pk."""
    run_pk = ti.dag_run_id
    if new_state is TaskState.SUCCESS:
        xcoms.store(session, run_pk, ti.task_id, ti.map_index, outcome.xcoms, outcome.xcom_lengths)
        if outcome.skip:
            runs.lock(session, run_pk)  # lock order: run, then its undecided instances
            _skip(session, run_pk, outcome.skip, ended_at)
    return run_pk


def _skip(session: Session, run_pk: int, task_ids: tuple[str, ...], now: datetime) -> None:
    """Skip the undecided instances a branch or short-circuit did not follow."""
    chosen = set(task_ids)
    ids = [
        ti.id
        for ti in task_instances.of_run(session, run_pk)
        if ti.task_id in chosen and ti.state is TaskState.NONE
    ]
    transitions.set_ti_states(
        session, ids, expected=TaskState.NONE, new=TaskState.SKIPPED, end_date=now
    )


def fail_silent(
    session: Session, cache: VersionCache, attempt: tries.Try, reason: str, now: datetime
) -> int | None:
    """Fail a running try that stopped reporting (a zombie), and decide its retry."""
    won = transitions.set_try_state(
        session,
        attempt.id,
        expected=TaskState.RUNNING,
        new=TaskState.FAILED,
        end_date=now,
        exit_reason=reason,
        error=reason,
    )
    if not won:
        return None
    _observe_end(TaskState.FAILED, attempt.start_date, now)
    ti = task_instances.by_ids(session, [attempt.task_instance_id])[0]
    return _finish_instance(session, cache, ti, TryOutcome.crashed(reason), now)


def reap_zombies(session: Session, cache: VersionCache, timeout: float, now: datetime) -> list[int]:
    """Fail every try silent for longer than ``timeout`` seconds; the runs that changed."""
    changed: list[int] = []
    for attempt in tries.silent_since(session, now - timedelta(seconds=timeout)):
        reason = f"zombie: no heartbeat for more than {timeout:g}s"
        run_pk = fail_silent(session, cache, attempt, reason, now)
        if run_pk is not None:
            changed.append(run_pk)
    return changed


def reset_orphans(session: Session, cache: VersionCache, now: datetime) -> list[int]:
    """Tries of scheduler jobs that ended (or died and were ended): never-started ones are
    forgotten and their instances scheduled again (no retry used); running ones are failed
    as zombies, unless their job's tries outlive it (``tries.orphaned``). The runs that
    changed."""
    changed: list[int] = []
    for attempt in tries.orphaned(session):
        if attempt.state is TaskState.QUEUED:
            forget_queued(session, attempt)
            continue
        reason = "zombie: the scheduler running it stopped"
        run_pk = fail_silent(session, cache, attempt, reason, now)
        if run_pk is not None:
            changed.append(run_pk)
    return changed


def forget_queued(session: Session, attempt: tries.Try) -> bool:
    """Take back a try that never started: delete it while it is still queued, and schedule
    its instance again with its try number restored (no retry used). False if it started
    (or was taken back) in the meantime.

    Race it settles: a worker starting the try at this moment. Either the delete wins, and
    the worker's ``queued -> running`` finds no row (a remote worker asks before it runs the
    try, and then does not); or the start won, and the delete finds no queued row. A local
    executor's tries are never taken back while it holds them (``keep`` below; a dead
    scheduler's workers died with it).
    """
    deleted = session.execute(
        delete(models.TaskTry)
        .where(models.TaskTry.id == attempt.id, models.TaskTry.state == TaskState.QUEUED)
        .returning(models.TaskTry.id)
    ).first()
    if deleted is None:
        return False
    transitions.set_ti_state(
        session,
        attempt.task_instance_id,
        expected=TaskState.QUEUED,
        new=TaskState.SCHEDULED,
        try_number=attempt.try_number - 1,
    )
    return True


def reset_queued_too_long(
    session: Session, timeout: float, now: datetime, *, keep: Collection[int] = ()
) -> int:
    """Take back tries queued for more than ``timeout`` seconds and never started (a message
    the broker lost, a worker that took it and died), except ``keep`` (tries this scheduler's
    executor holds, about to start). How many were taken back."""
    cutoff = now - timedelta(seconds=timeout)
    kept = set(keep)
    return sum(
        forget_queued(session, attempt)
        for attempt in tries.queued_before(session, cutoff)
        if attempt.id not in kept
    )


def overdue(
    session: Session, cache: VersionCache, margin: float, now: datetime
) -> list[tuple[tries.Try, str]]:
    """Running tries past their task's ``execution_timeout`` by more than ``margin`` seconds:
    their supervisor should have stopped them and did not (the scheduler's backstop)."""
    found: list[tuple[tries.Try, str]] = []
    running = tries.running_with_run(session)
    for attempt, task_id, version_id in running:
        task = cache.get(session, version_id).dag.tasks.get(task_id)
        if task is None or task.execution_timeout is None or attempt.start_date is None:
            continue
        limit = task.execution_timeout.total_seconds()
        if (now - attempt.start_date).total_seconds() > limit + margin:
            found.append(
                (
                    attempt,
                    f"timeout: still running {limit:g}s (execution_timeout) + {margin:g}s "
                    "after it started; failed by the scheduler",
                )
            )
    return found
