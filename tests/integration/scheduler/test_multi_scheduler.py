"""Several ``gnomon scheduler`` processes on one Postgres database, as on separate machines
(each its own GNOMON_HOME): they share the work, never run a try twice, adopt the work of one
that dies, and wake each other through NOTIFY."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from support.cli import gnomon
from support.orchestrator import Orchestrator, max_overlap
from support.processes import eventually, wait_for
from support.remote import BrokerExecutor, execution_key
from support.schedulers import SchedulerProcess

from gnomon.dagfiles import bag
from gnomon.events import wakeups
from gnomon.scheduler import creation
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import FINISHED_RUN, RunState, TaskState
from gnomon.store import dags, models, pools

pytestmark = [pytest.mark.parametrize("backend", ["postgres"]), pytest.mark.slow]

STAGES = 5
WIDTH = 4  # 5 stages of 4 tasks: 20 tasks, each stage after the whole previous one

EFFECTS_DAG = """
import time
from datetime import datetime, timedelta

import psycopg

from gnomon import DAG
from gnomon.operators.python import PythonOperator

CONNINFO = {conninfo!r}


def effect(ti=None, run_id=None):
    with psycopg.connect(CONNINFO, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO effects (dag_id, run_id, task_id, try_number) VALUES (%s, %s, %s, %s)",
            (ti.dag_id, run_id, ti.task_id, ti.try_number),
        )
    time.sleep({pause!r})


with DAG(
    "effects",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    max_active_runs=100,
    max_active_tasks=100,
    default_args={{"retries": 2, "retry_delay": timedelta(seconds=0), "pool": {pool!r}}},
) as dag:
    previous = None
    for stage in range({stages}):
        current = [
            PythonOperator(task_id=f"s{{stage}}_t{{i}}", python_callable=effect)
            for i in range({width})
        ]
        if previous is not None:
            for task in current:
                previous >> task
        previous = current
"""


@pytest.fixture
def launch(
    tmp_path: Path, db_url: str, dags_folder: Path
) -> Iterator[Callable[..., SchedulerProcess]]:
    started: list[SchedulerProcess] = []

    def factory(name: str, **settings: str) -> SchedulerProcess:
        scheduler = SchedulerProcess(tmp_path, name, db_url, dags_folder, settings).start()
        started.append(scheduler)
        return scheduler

    yield factory
    for scheduler in started:
        scheduler.stop()


def _write_effects_dag(
    engine: Engine, sessions: sessionmaker[Session], dags_folder: Path, *, pause: float = 0.0
) -> None:
    _write_dag(engine, sessions, dags_folder, pause=pause, stages=STAGES, width=WIDTH)


def _write_dag(
    engine: Engine,
    sessions: sessionmaker[Session],
    dags_folder: Path,
    *,
    pause: float,
    stages: int,
    width: int,
    pool: str = "default_pool",
) -> None:
    """The side-effect table in the test's database, and the DAG whose tasks write to it."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE effects (dag_id text, run_id text, task_id text, try_number int, "
                "PRIMARY KEY (dag_id, run_id, task_id, try_number))"
            )
        )
    url = make_url(engine.url.render_as_string(hide_password=False))
    source = EFFECTS_DAG.format(
        conninfo=url.set(drivername="postgresql").render_as_string(hide_password=False),
        pause=pause,
        stages=stages,
        width=width,
        pool=pool,
    )
    (dags_folder / "effects.py").write_text(textwrap.dedent(source))
    _sync(sessions, dags_folder)


def _sync(sessions: sessionmaker[Session], dags_folder: Path) -> None:
    result = bag.parse_folder(dags_folder, 30)
    assert not result.import_errors, [e.error for e in result.import_errors]
    with sessions.begin() as session:
        dags.sync_parse_result(session, result, now=datetime.now(UTC), paused_on_creation=False)


def _trigger(sessions: sessionmaker[Session], dag_id: str, count: int) -> list[str]:
    """``count`` manual runs in one transaction, announced to every scheduler (NOTIFY)."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        made = [
            creation.trigger(
                session,
                VersionCache(),
                dag_id,
                now=now,
                logical_date=now - timedelta(minutes=i),
                run_id=f"run{i:03d}",
            ).run_id
            for i in range(count)
        ]
        wakeups.announce(session)
    return made


def _run_states(sessions: sessionmaker[Session]) -> list[RunState]:
    with sessions() as session:
        return list(session.scalars(select(models.DagRun.state)))


def _all_finished(sessions: sessionmaker[Session]) -> bool:
    return all(state in FINISHED_RUN for state in _run_states(sessions))


def _wait_all_finished(
    sessions: sessionmaker[Session], within: float, *schedulers: SchedulerProcess
) -> None:
    finished = eventually(lambda: _all_finished(sessions), within)
    logs = "\n".join(s.log()[-3000:] for s in schedulers)
    assert finished, f"runs still going: {_run_states(sessions)}\n{logs}"


def _tries(sessions: sessionmaker[Session]) -> list[tuple[str, str, int, TaskState, int | None]]:
    """Every try: (run id, task id, try number, state, job id)."""
    with sessions() as session:
        rows = session.execute(
            select(
                models.TaskInstance.run_id,
                models.TaskInstance.task_id,
                models.TaskTry.try_number,
                models.TaskTry.state,
                models.TaskTry.job_id,
            ).join(models.TaskInstance, models.TaskInstance.id == models.TaskTry.task_instance_id)
        ).all()
    return [(r, t, n, s, j) for r, t, n, s, j in rows]


def _effects(engine: Engine) -> list[tuple[str, str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT run_id, task_id, try_number FROM effects"))
        return [(r, t, n) for r, t, n in rows]


def _scheduler_jobs(sessions: sessionmaker[Session]) -> dict[int, models.JobState]:
    with sessions() as session:
        rows = session.execute(
            select(models.Job.id, models.Job.state).where(
                models.Job.job_type == models.JobType.SCHEDULER
            )
        ).all()
    return {job_id: state for job_id, state in rows}


def _stuck_states(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        held = [TaskState.QUEUED, TaskState.RUNNING, TaskState.SCHEDULED]
        instances = session.scalars(
            select(models.TaskInstance.state).where(models.TaskInstance.state.in_(held))
        ).all()
        attempts = session.scalars(
            select(models.TaskTry.state).where(models.TaskTry.state.in_(held))
        ).all()
    return [str(s) for s in [*instances, *attempts]]


def test_two_schedulers_share_fifty_runs_and_run_every_try_once(
    engine: Engine,
    sessions: sessionmaker[Session],
    dags_folder: Path,
    launch: Callable[..., SchedulerProcess],
) -> None:
    _write_effects_dag(engine, sessions, dags_folder)
    settings = {"GNOMON_PARALLELISM": "4", "GNOMON_TASK_HEARTBEAT_TIMEOUT": "20"}
    first, second = launch("a", **settings), launch("b", **settings)
    wait_for(lambda: len(_scheduler_jobs(sessions)) == 2, timeout=30)

    run_ids = _trigger(sessions, "effects", 50)
    _wait_all_finished(sessions, 280, first, second)

    assert _run_states(sessions) == [RunState.SUCCESS] * len(run_ids)
    attempts = _tries(sessions)
    assert len(attempts) == len(run_ids) * STAGES * WIDTH  # one try per instance
    assert {(r, t) for r, t, *_ in attempts} == {
        (r, f"s{s}_t{i}") for r in run_ids for s in range(STAGES) for i in range(WIDTH)
    }
    assert {state for *_, state, _ in attempts} == {TaskState.SUCCESS}
    effects = _effects(engine)
    assert sorted(effects) == sorted((r, t, n) for r, t, n, _, _ in attempts)
    assert {job for *_, job in attempts} == set(_scheduler_jobs(sessions))  # both worked


def test_when_one_of_two_schedulers_is_killed_the_other_adopts_its_work(
    engine: Engine,
    sessions: sessionmaker[Session],
    dags_folder: Path,
    launch: Callable[..., SchedulerProcess],
) -> None:
    _write_effects_dag(engine, sessions, dags_folder, pause=0.3)
    settings = {"GNOMON_PARALLELISM": "3", "GNOMON_TASK_HEARTBEAT_TIMEOUT": "4"}
    survivor, victim = launch("a", **settings), launch("b", **settings)
    wait_for(lambda: len(_scheduler_jobs(sessions)) == 2, timeout=30)
    run_ids = _trigger(sessions, "effects", 8)
    with sessions() as session:
        victim_job = session.scalars(
            select(models.Job.id).where(models.Job.pid == victim.pid)
        ).one()

    def victim_is_running_tries() -> bool:
        return any(j == victim_job and s is TaskState.RUNNING for *_, s, j in _tries(sessions))

    wait_for(victim_is_running_tries, timeout=60)
    victim.kill_9()
    _wait_all_finished(sessions, 200, survivor)

    assert _run_states(sessions) == [RunState.SUCCESS] * len(run_ids)
    assert _scheduler_jobs(sessions)[victim_job] is models.JobState.FAILED
    assert _stuck_states(sessions) == []
    attempts = _tries(sessions)
    orphaned = [a for a in attempts if a[4] == victim_job and a[3] is TaskState.FAILED]
    assert orphaned, "the killed scheduler had running tries: they were failed and retried"
    for run_id, task_id, number, _, _ in orphaned:
        retried = [a for a in attempts if (a[0], a[1]) == (run_id, task_id) and a[2] > number]
        assert [a[3] for a in retried] == [TaskState.SUCCESS]
    succeeded = sorted((r, t, n) for r, t, n, s, _ in attempts if s is TaskState.SUCCESS)
    assert len(succeeded) == len(run_ids) * STAGES * WIDTH
    effects = _effects(engine)
    for attempt in succeeded:  # each successful try inserted exactly one row
        assert effects.count(attempt) == 1


PAUSED_ONCE = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.python import PythonOperator

with DAG("woken", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="only", python_callable=lambda: None)
"""


def test_a_run_triggered_on_another_machine_starts_at_once_through_notify(
    sessions: sessionmaker[Session],
    dags_folder: Path,
    db_url: str,
    tmp_path: Path,
    launch: Callable[..., SchedulerProcess],
) -> None:
    (dags_folder / "woken.py").write_text(PAUSED_ONCE)
    _sync(sessions, dags_folder)
    poll = 120.0
    scheduler = launch("scheduler", GNOMON_SCHEDULER_POLL_INTERVAL=str(poll))

    def first_pass_done() -> bool:
        with sessions() as session:
            job = session.scalars(select(models.Job)).first()
            return job is not None and job.heartbeat_at > job.started_at

    wait_for(first_pass_done, timeout=30)
    # The CLI on "another machine": its own GNOMON_HOME, so its local wake-up reaches nobody.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = gnomon(elsewhere, "dags", "trigger", "woken", env={"GNOMON_DB_URL": db_url})
    assert result.returncode == 0, result.stderr
    started = eventually(lambda: _run_states(sessions) == [RunState.SUCCESS], within=poll / 4)
    assert started, f"{_run_states(sessions)}; scheduler log:\n{scheduler.log()[-3000:]}"


ONE_SLOT = """
import time
from datetime import datetime
from gnomon import DAG
from gnomon.operators.python import PythonOperator


def pause(seconds):
    time.sleep(seconds)


with DAG(
    "one_slot", schedule=None, start_date=datetime(2024, 1, 1), max_active_runs=10,
    max_active_tasks=100,
) as dag:
    for i in range(6):
        PythonOperator(task_id=f"pooled{i}", python_callable=pause, op_args=[0.05],
                       pool="single")
    for i in range(12):
        PythonOperator(task_id=f"free{i}", python_callable=pause, op_args=[0.1])
"""


def test_two_schedulers_never_overfill_a_one_slot_pool(
    sessions: sessionmaker[Session], dags_folder: Path, launch: Callable[..., SchedulerProcess]
) -> None:
    (dags_folder / "one_slot.py").write_text(ONE_SLOT)
    _sync(sessions, dags_folder)
    with sessions.begin() as session:
        pools.upsert(session, "single", 1)
    settings = {"GNOMON_PARALLELISM": "3", "GNOMON_TASK_HEARTBEAT_TIMEOUT": "20"}
    first, second = launch("a", **settings), launch("b", **settings)
    wait_for(lambda: len(_scheduler_jobs(sessions)) == 2, timeout=30)
    _trigger(sessions, "one_slot", 4)
    _wait_all_finished(sessions, 200, first, second)

    assert set(_run_states(sessions)) == {RunState.SUCCESS}
    with sessions() as session:
        rows = session.execute(
            select(
                models.TaskInstance.pool,
                models.TaskTry.start_date,
                models.TaskTry.end_date,
                models.TaskTry.job_id,
            ).join(models.TaskInstance, models.TaskInstance.id == models.TaskTry.task_instance_id)
        ).all()
    pooled = [(start, end) for pool, start, end, _ in rows if pool == "single" and start and end]
    assert len(pooled) == 4 * 6
    assert max_overlap(pooled) == 1
    assert {job for *_, job in rows} == set(_scheduler_jobs(sessions))  # both were at work


def test_a_changed_run_is_planned_by_its_owner_alone(db_url: str, tmp_path: Path) -> None:
    """A run's NOTIFY wakes every scheduler, but only the run's owner among the live ones
    takes it up (the rest would race it for the run, lose and plan it again for nothing);
    what one had no slot for is for all the others; one that stops hands its runs over."""
    built = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        executor = BrokerExecutor(execution_key(tmp_path / name / "key"))
        built.append(Orchestrator(db_url, tmp_path / name, executor=executor))
    one, two = (orchestrator.scheduler for orchestrator in built)
    try:
        one.start()
        with built[0].sessions.begin() as session:  # as if on another machine
            session.execute(
                update(models.Job).where(models.Job.id == one.job_id).values(hostname="other")
            )
        two.start()
        for scheduler in (one, two):
            scheduler.run_pass()  # the first pass heartbeats: each reads who is alive
        assert one.job_id is not None and two.job_id is not None
        ids = tuple(sorted([one.job_id, two.job_id]))
        assert one._peers == two._peers == ids

        changed = {10, 11, 12, 13}
        with built[0].sessions.begin() as session:
            for run_pk in changed:
                wakeups.announce(session, run_pk=run_pk)
            wakeups.announce(session, run_pk=14, left_behind=True)

        def heard_all() -> bool:
            for scheduler in (one, two):
                scheduler._wait(threading.Event())
            return 14 in one._dirty and 14 in two._dirty and changed <= one._dirty | two._dirty

        wait_for(heard_all)
        assert one._dirty & two._dirty == {14}
        for scheduler in (one, two):
            owned = {pk for pk in changed if ids[pk % 2] == scheduler.job_id}
            assert scheduler._dirty == owned | {14}

        two.shutdown()
        one._dirty.clear()

        def swept() -> bool:
            one._wait(threading.Event())
            return one._sweep

        wait_for(swept)
        one.run_pass()  # the sweep reads who is alive again: every run is one's now
        assert one._peers == (one.job_id,)
        assert all(one._owns(pk) for pk in changed)
    finally:
        one.shutdown()
        for orchestrator in built:
            orchestrator.engine.dispose()
