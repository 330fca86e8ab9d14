"""Adopting the work of a scheduler that is gone, and taking back tries queued too long."""

from __future__ import annotations

import socket
from datetime import timedelta

from conftest import MakeOrchestrator
from scheduler_seeds import NOW, queue_all, schedule, wide_dag
from sqlalchemy import select
from support.orchestrator import Orchestrator
from support.processes import eventually
from support.remote import BrokerExecutor

from gnomon.executors.base import TryStarted, Workload
from gnomon.scheduler import adoption, outcomes
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import TaskState
from gnomon.store import jobs, models
from gnomon.store.exceptions import DatabaseUnavailable
from gnomon.store.models import JobState, JobType

TIMEOUT = 30.0


def _job(orchestrator: Orchestrator, *, silent_for: float, tries_outlive: bool = False) -> int:
    with orchestrator.sessions.begin() as session:
        started = NOW - timedelta(seconds=silent_for)
        return jobs.start(
            session,
            JobType.SCHEDULER,
            "elsewhere",
            1,
            started,
            tries_outlive=tries_outlive,
        )


def _one_queued_one_running(orchestrator: Orchestrator, job_id: int) -> tuple[Workload, Workload]:
    """Two tries of ``job_id``, one queued, one running."""
    wide_dag(orchestrator, width=2)
    schedule(orchestrator.sessions)
    queued, running = queue_all(orchestrator, job_id)
    with orchestrator.sessions.begin() as session:
        event = TryStarted(running.try_id, 4242, socket.gethostname(), "w", NOW)
        assert outcomes.started(session, event, NOW, orchestrator.scheduler.cache)
    return queued, running


def _adopt(orchestrator: Orchestrator) -> None:
    with orchestrator.sessions.begin() as session:
        adoption.adopt(session, VersionCache(), TIMEOUT, NOW)


def _try_states(orchestrator: Orchestrator) -> dict[int, TaskState]:
    with orchestrator.sessions() as session:
        rows = session.execute(select(models.TaskTry.id, models.TaskTry.state)).all()
    return {try_id: state for try_id, state in rows}


def _instances(orchestrator: Orchestrator) -> dict[str, tuple[TaskState, int]]:
    """Each instance's state and try number, by task id."""
    with orchestrator.sessions() as session:
        rows = session.execute(
            select(
                models.TaskInstance.task_id,
                models.TaskInstance.state,
                models.TaskInstance.try_number,
            )
        ).all()
    return {task_id: (state, number) for task_id, state, number in rows}


def _job_state(orchestrator: Orchestrator, job_id: int) -> JobState:
    with orchestrator.sessions() as session:
        job = jobs.get(session, job_id)
    assert job is not None
    return job.state


def test_a_silent_scheduler_is_ended_its_queued_tries_taken_back_its_running_ones_failed(
    orchestrator: Orchestrator,
) -> None:
    dead = _job(orchestrator, silent_for=TIMEOUT + 1)
    queued, running = _one_queued_one_running(orchestrator, dead)

    _adopt(orchestrator)

    assert _job_state(orchestrator, dead) is JobState.FAILED
    assert _try_states(orchestrator) == {running.try_id: TaskState.FAILED}  # queued: gone
    # The queued one is scheduled again with no try used; the running one retries.
    assert _instances(orchestrator) == {
        queued.request.task_id: (TaskState.SCHEDULED, 0),
        running.request.task_id: (TaskState.UP_FOR_RETRY, 1),
    }
    with orchestrator.sessions() as session:
        reason = session.scalar(
            select(models.TaskTry.exit_reason).where(models.TaskTry.id == running.try_id)
        )
    assert reason == "zombie: the scheduler running it stopped"


def test_running_tries_of_a_dead_scheduler_whose_tries_outlive_it_are_left_running(
    orchestrator: Orchestrator,
) -> None:
    dead = _job(orchestrator, silent_for=TIMEOUT + 1, tries_outlive=True)
    queued, running = _one_queued_one_running(orchestrator, dead)

    _adopt(orchestrator)

    assert _job_state(orchestrator, dead) is JobState.FAILED
    assert _try_states(orchestrator) == {running.try_id: TaskState.RUNNING}
    assert _instances(orchestrator) == {
        queued.request.task_id: (TaskState.SCHEDULED, 0),
        running.request.task_id: (TaskState.RUNNING, 1),
    }


def test_a_scheduler_that_heartbeats_keeps_its_tries(orchestrator: Orchestrator) -> None:
    alive = _job(orchestrator, silent_for=TIMEOUT - 5)
    queued, running = _one_queued_one_running(orchestrator, alive)

    _adopt(orchestrator)

    assert _job_state(orchestrator, alive) is JobState.RUNNING
    assert _try_states(orchestrator) == {
        queued.try_id: TaskState.QUEUED,
        running.try_id: TaskState.RUNNING,
    }


def test_tries_queued_longer_than_the_queued_timeout_are_taken_back_unless_kept(
    orchestrator: Orchestrator,
) -> None:
    alive = _job(orchestrator, silent_for=0)
    wide_dag(orchestrator, width=3)
    schedule(orchestrator.sessions)
    old = queue_all(orchestrator, alive, slots=2, at=NOW - timedelta(seconds=601))
    recent = queue_all(orchestrator, alive, slots=1, at=NOW - timedelta(seconds=5))

    with orchestrator.sessions.begin() as session:
        taken = outcomes.reset_queued_too_long(session, 600, NOW, keep=[old[1].try_id])

    assert taken == 1
    assert _try_states(orchestrator) == {
        old[1].try_id: TaskState.QUEUED,
        recent[0].try_id: TaskState.QUEUED,
    }
    assert sorted(_instances(orchestrator).values()) == sorted(
        [(TaskState.SCHEDULED, 0), (TaskState.QUEUED, 1), (TaskState.QUEUED, 1)]
    )


def test_after_a_database_outage_no_try_is_a_zombie_until_heartbeats_could_come_again(
    make_orchestrator: MakeOrchestrator,
) -> None:
    # A remote try's heartbeats went nowhere while the database was away, like the
    # scheduler's own passes: judging them at once would fail tries that run fine.
    orchestrator = make_orchestrator(executor=BrokerExecutor(b"k" * 32), heartbeat_timeout=4)
    wide_dag(orchestrator, width=1)
    schedule(orchestrator.sessions)
    [running] = queue_all(orchestrator, _job(orchestrator, silent_for=0, tries_outlive=True))
    with orchestrator.sessions.begin() as session:
        event = TryStarted(running.try_id, 4242, socket.gethostname(), "w", NOW)
        assert outcomes.started(session, event, NOW - timedelta(hours=1), VersionCache())
    scheduler = orchestrator.scheduler
    real_pass = scheduler.run_pass
    outage = iter([DatabaseUnavailable(orchestrator.db_url, "server closed the connection", "")])

    def run_pass() -> None:
        for error in outage:  # the first pass finds the database gone
            raise error
        real_pass()

    scheduler.run_pass = run_pass  # type: ignore[method-assign]
    orchestrator.start()

    assert eventually(lambda: scheduler.passes >= 2, 10)  # one pass done since it came back
    assert _try_states(orchestrator) == {running.try_id: TaskState.RUNNING}
    # A heartbeat timeout after the database came back, a try still silent is a zombie.
    assert eventually(lambda: _try_states(orchestrator)[running.try_id] is TaskState.FAILED, 15)
