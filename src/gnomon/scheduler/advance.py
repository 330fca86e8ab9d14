"""Moving a run forward: ``semantics.planning.plan`` over the run's states in the database,
applied through the guarded transitions."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gnomon.scheduler.versions import VersionCache
from gnomon.semantics import planning
from gnomon.semantics.planning import TIKey
from gnomon.semantics.states import FINISHED, RunState, TaskState
from gnomon.serialization.model import SerializedDag
from gnomon.store import locks, models, runs, task_instances, transitions, xcoms

#: Past states that let a depends_on_past instance run.
PAST_OK = (TaskState.SUCCESS, TaskState.SKIPPED)
#: Runs of DAGs with more tasks than this (or with mapped tasks, whose instances are many)
#: count their states before reading them all, which planning needs only when some are
#: undecided.
COUNT_FIRST_ABOVE = 200


@dataclass(frozen=True, slots=True)
class Advanced:
    state: RunState
    #: Instances this call made ``scheduled`` (expansions included).
    scheduled: int = 0


def advance(session: Session, cache: VersionCache, run: runs.Run, now: datetime) -> Advanced:
    """Decide the run's undecided instances and, once all are finished, the run's state.

    Cheap when nothing is undecided: one count query, no planning. A small DAG's states are
    read at once instead (fewer rows than ``COUNT_FIRST_ABOVE``: one query either way).
    """
    version = cache.get(session, run.dag_version_id)
    rows = None
    if version.dag.has_mapped or len(version.dag.tasks) > COUNT_FIRST_ABOVE:
        counts = task_instances.state_counts(session, run.id)
    else:
        rows = task_instances.states_of_run(session, run.id)
        counts = Counter(state for _, _, state in rows)
    undecided = counts.get(TaskState.NONE, 0)
    unfinished = sum(n for s, n in counts.items() if s not in FINISHED)
    if undecided == 0 and unfinished > 0:
        return Advanced(RunState.RUNNING)
    if rows is None:
        rows = task_instances.states_of_run(session, run.id)
    ids = {key: ti_id for ti_id, key, _ in rows}
    states = {key: state for _, key, state in rows}
    past = _past_states(session, run, version.dag)
    result = planning.plan(
        version.dag,
        states,
        xcoms.lengths(session, run.id) if version.dag.has_mapped else {},
        past_allows=(lambda key: past.get(key) in PAST_OK) if past is not None else None,
    )
    scheduled = 0
    for task_id, n in result.expansions.items():
        if task_instances.expand(session, run.id, run.dag_id, run.run_id, version.dag, task_id, n):
            scheduled += n
    grouped: dict[TaskState, list[int]] = defaultdict(list)
    for key, new_state in result.changes.items():
        if key in result.reasons:
            transitions.set_ti_state(
                session,
                ids[key],
                expected=TaskState.NONE,
                new=new_state,
                note=result.reasons[key],
                end_date=now,
            )
        else:
            grouped[new_state].append(ids[key])
    for new_state, ti_ids in grouped.items():
        fields = {"end_date": now} if new_state in FINISHED else {}
        won = transitions.set_ti_states(
            session, ti_ids, expected=TaskState.NONE, new=new_state, **fields
        )
        if new_state is TaskState.SCHEDULED:
            scheduled += len(won)
    if result.run_state in (RunState.SUCCESS, RunState.FAILED):
        transitions.set_run_state(
            session, run.id, expected=RunState.RUNNING, new=result.run_state, end_date=now
        )
    return Advanced(result.run_state, scheduled)


def _past_states(
    session: Session, run: runs.Run, dag: SerializedDag
) -> dict[TIKey, TaskState] | None:
    """The previous run's instance states, if any task of the DAG depends on its past."""
    if not any(t.depends_on_past for t in dag.tasks.values()):
        return None
    previous = runs.previous(session, run)
    if previous is None:
        return {}
    return {key: state for _, key, state in task_instances.states_of_run(session, previous.id)}


@dataclass(frozen=True, slots=True)
class Started:
    runs: list[runs.Run]
    #: Some DAGs with queued runs were held by another transaction: try again shortly.
    contended: bool


def start_queued_runs(session: Session, now: datetime) -> Started:
    """Start queued runs, oldest first, while their DAG has fewer than ``max_active_runs``
    running.

    Race it settles: two schedulers counting a DAG's running runs at once and each starting
    one more than the limit allows. The DAG's row is claimed first (``locks.claim_dags``,
    skipping DAGs another transaction holds) and its runs are counted after that.
    """
    queued = runs.in_states(session, [RunState.QUEUED])
    if not queued:
        return Started([], contended=False)
    wanted = {run.dag_id for run in queued}
    claimed = locks.claim_dags(session, wanted)
    running = runs.counts_per_dag(session, [RunState.RUNNING])
    started: list[runs.Run] = []
    limits: dict[str, int] = {}
    for run in queued:
        if run.dag_id not in claimed:
            continue
        if run.dag_id not in limits:
            dag = session.get(models.Dag, run.dag_id)
            limits[run.dag_id] = dag.max_active_runs if dag is not None else 16
        if running.get(run.dag_id, 0) >= limits[run.dag_id]:
            continue
        if transitions.set_run_state(
            session, run.id, expected=RunState.QUEUED, new=RunState.RUNNING, start_date=now
        ):
            running[run.dag_id] = running.get(run.dag_id, 0) + 1
            started.append(run)
    return Started(started, contended=claimed != wanted)
