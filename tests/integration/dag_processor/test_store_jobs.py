"""``store.jobs``: the rows long-running components register, heartbeat and end.

(Here rather than under store/ because the DAG processor is the first job; the scheduler
registers through the same functions.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from gnomon.store import exceptions, jobs
from gnomon.store.models import JobState, JobType

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def start(session: Session, job_type: JobType = JobType.DAG_PROCESSOR, at: datetime = T0) -> int:
    job_id = jobs.start(session, job_type, "host-a", 4242, at)
    session.commit()
    return job_id


def test_a_started_job_is_running_with_its_host_pid_and_a_first_heartbeat(
    session: Session,
) -> None:
    job_id = start(session)

    job = jobs.get(session, job_id)

    assert job == jobs.Job(
        job_id, JobType.DAG_PROCESSOR, "host-a", 4242, JobState.RUNNING, T0, T0, None, False
    )


def test_heartbeat_moves_the_heartbeat_of_a_running_job(session: Session) -> None:
    job_id = start(session)

    assert jobs.heartbeat(session, job_id, T0 + timedelta(seconds=5))
    session.commit()

    job = jobs.get(session, job_id)
    assert job is not None and job.heartbeat_at == T0 + timedelta(seconds=5)


def test_end_records_the_final_state_and_time_once(session: Session) -> None:
    job_id = start(session)

    assert jobs.end(session, job_id, JobState.SUCCESS, T0 + timedelta(seconds=9))
    assert not jobs.end(session, job_id, JobState.FAILED, T0 + timedelta(seconds=10))
    session.commit()

    job = jobs.get(session, job_id)
    assert job is not None
    assert (job.state, job.ended_at) == (JobState.SUCCESS, T0 + timedelta(seconds=9))


def test_a_heartbeat_after_the_job_was_ended_is_refused(session: Session) -> None:
    job_id = start(session)
    jobs.end(session, job_id, JobState.FAILED, T0 + timedelta(seconds=1))

    assert not jobs.heartbeat(session, job_id, T0 + timedelta(seconds=2))

    job = jobs.get(session, job_id)
    assert job is not None and job.heartbeat_at == T0


def test_a_job_cannot_end_as_running(session: Session) -> None:
    job_id = start(session)

    with pytest.raises(exceptions.InvalidValue, match="not running"):
        jobs.end(session, job_id, JobState.RUNNING, T0)


def test_alive_lists_running_jobs_of_the_type_with_a_recent_heartbeat_latest_first(
    session: Session,
) -> None:
    stale = start(session, at=T0)
    older = start(session, at=T0 + timedelta(seconds=50))
    newest = start(session, at=T0 + timedelta(seconds=60))
    ended = start(session, at=T0 + timedelta(seconds=60))
    jobs.end(session, ended, JobState.SUCCESS, T0 + timedelta(seconds=61))
    start(session, JobType.SCHEDULER, at=T0 + timedelta(seconds=60))

    alive = jobs.alive(session, JobType.DAG_PROCESSOR, since=T0 + timedelta(seconds=30))

    assert [job.id for job in alive] == [newest, older]
    assert stale not in [job.id for job in alive]


def test_get_of_an_unknown_job_is_none(session: Session) -> None:
    assert jobs.get(session, 987654) is None
