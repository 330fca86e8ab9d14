"""``DagProcessor.run``: passes every interval until stopped, as a registered job.

The loop runs in the test's own thread, driven through ``on_report`` (called after every
pass): the parser forks, and forking while another thread runs is unsafe (and warned about
from Python 3.12).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from processor_support import dag_source, make_processor, read, write
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gnomon.dag_processor import processor
from gnomon.store import dags, exceptions, jobs, models
from gnomon.store.models import JobState, JobType

Sessions = sessionmaker[Session]
#: Passes after which a test that is still waiting gives up.
MAX_PASSES = 500


def stop_when(
    stop: threading.Event, condition: Callable[[processor.ProcessorReport], bool]
) -> Callable[[processor.ProcessorReport], None]:
    """An ``on_report`` that stops the loop when ``condition`` holds (or after MAX_PASSES)."""
    passes = []

    def on_report(report: processor.ProcessorReport) -> None:
        passes.append(report)
        if condition(report) or len(passes) >= MAX_PASSES:
            stop.set()

    return on_report


def only_job(session: Session) -> jobs.Job:
    [job_id] = session.scalars(select(models.Job.id)).all()
    job = jobs.get(session, job_id)
    assert job is not None
    return job


def test_run_picks_up_a_file_added_while_it_runs(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    write(dags_folder / "a.py", dag_source("a"))
    stop = threading.Event()
    created: list[str] = []

    def add_a_file_after_the_first_pass(report: processor.ProcessorReport) -> bool:
        created.extend(report.created)
        if len(created) == 1:
            write(dags_folder / "late.py", dag_source("late"))
        return "late" in created

    make_processor(dags_folder, sessions, home).run(
        stop, stop_when(stop, add_a_file_after_the_first_pass)
    )

    assert created == ["a", "late"]
    assert [d.dag_id for d in read(sessions, dags.list_dags)] == ["a", "late"]


def test_run_registers_a_running_dag_processor_job_while_it_runs(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    stop = threading.Event()
    seen: list[jobs.Job] = []

    def record(report: processor.ProcessorReport) -> bool:
        seen.append(read(sessions, only_job))
        return True

    make_processor(dags_folder, sessions, home).run(stop, stop_when(stop, record))

    [job] = seen
    assert (job.job_type, job.state, job.ended_at) == (
        JobType.DAG_PROCESSOR,
        JobState.RUNNING,
        None,
    )


def test_run_heartbeats_its_job_after_every_pass(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    stop = threading.Event()
    heartbeats: list[datetime] = []

    def record(report: processor.ProcessorReport) -> bool:
        heartbeats.append(read(sessions, only_job).heartbeat_at)
        return len(heartbeats) == 3

    make_processor(dags_folder, sessions, home).run(stop, stop_when(stop, record))

    started = read(sessions, only_job).started_at
    assert started < heartbeats[0] < heartbeats[1] < heartbeats[2]


def test_run_marks_its_job_success_when_stopped(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    stop = threading.Event()

    make_processor(dags_folder, sessions, home).run(stop, stop_when(stop, lambda _: True))

    job = read(sessions, only_job)
    assert job.state is JobState.SUCCESS and job.ended_at is not None


def test_run_marks_its_job_failed_when_an_error_ends_it(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    def explode(report: processor.ProcessorReport) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        make_processor(dags_folder, sessions, home).run(threading.Event(), explode)

    assert read(sessions, only_job).state is JobState.FAILED


def test_run_returns_promptly_when_stopped_during_its_wait(
    dags_folder: Path, sessions: Sessions, home: Path
) -> None:
    stop = threading.Event()
    timers: list[threading.Timer] = []

    def stop_soon_after_the_first_pass(report: processor.ProcessorReport) -> None:
        # Right before the 60 s wait. (The folder is empty: nothing forks once the timer's
        # thread exists.)
        timers.append(threading.Timer(0.1, stop.set))
        timers[-1].start()

    began = time.monotonic()
    make_processor(dags_folder, sessions, home, interval=60).run(
        stop, stop_soon_after_the_first_pass
    )

    assert time.monotonic() - began < 10
    assert len(timers) == 1
    timers[0].join()


def test_run_logs_a_failed_pass_and_syncs_on_the_next(
    dags_folder: Path, sessions: Sessions, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = itertools.count(1)

    def second_call_fails() -> Session:
        # 1: the job starts, 2: the first pass's sync, 3: its heartbeat, 4: the next sync.
        if next(calls) == 2:
            raise exceptions.DatabaseUnavailable("sqlite:///x", "disk I/O error", "Retry.")
        return sessions()

    write(dags_folder / "a.py", dag_source("a"))
    stop = threading.Event()
    reports: list[processor.ProcessorReport] = []
    caplog.set_level(logging.INFO, logger="gnomon")

    def record(report: processor.ProcessorReport) -> bool:
        reports.append(report)
        return True

    make_processor(dags_folder, second_call_fails, home).run(stop, stop_when(stop, record))

    [report] = reports
    assert report.created == ("a",)
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot sync the DAGs folder" in m and "disk I/O error" in m for m in messages)
    assert any("recovered" in m for m in messages)
