"""``gnomon dag-processor`` as a user runs it: once, or as a long-running process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.cli import gnomon
from support.processes import wait_for

from gnomon.store import dags, db, jobs, models
from gnomon.store.models import JobState

Starter = Callable[[float], "subprocess.Popen[bytes]"]


def dag_source(dag_id: str) -> str:
    return (
        "from gnomon import DAG\n"
        "from gnomon.operators.empty import EmptyOperator\n\n"
        f"with DAG({dag_id!r}):\n"
        "    EmptyOperator(task_id='t')\n"
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A migrated GNOMON_HOME whose dags/ folder defines the DAG ``first``."""
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "first.py").write_text(dag_source("first"))
    migrated = gnomon(tmp_path, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    return tmp_path


@contextlib.contextmanager
def reading(home: Path) -> Iterator[Session]:
    """A read-only session on the home's database (the processor keeps writing to it)."""
    engine = db.make_engine(db.default_sqlite_url(home))
    try:
        with db.session_factory(engine, read_only=True)() as session:
            yield session
    finally:
        engine.dispose()


def active_dag_ids(home: Path) -> list[str]:
    with reading(home) as session:
        return [d.dag_id for d in dags.list_dags(session) if d.is_active]


def the_job(home: Path) -> jobs.Job:
    """The one job of the home (the processor registers it before its first pass)."""
    with reading(home) as session:
        [job_id] = session.scalars(select(models.Job.id)).all()
        job = jobs.get(session, job_id)
    assert job is not None
    return job


@pytest.fixture
def start_processor(home: Path) -> Iterator[Starter]:
    """Starts ``gnomon dag-processor`` on ``home`` (stderr to home/stderr.log); kills what is
    still running at the end of the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(interval: float) -> subprocess.Popen[bytes]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GNOMON_") and k not in ("COLUMNS", "LINES")
        }
        env |= {"GNOMON_HOME": str(home), "GNOMON_DAG_DIR_LIST_INTERVAL": str(interval)}
        with (home / "stderr.log").open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gnomon.cli.main", "dag-processor"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_once_stores_the_dags_of_the_folder_and_prints_what_changed(home: Path) -> None:
    done = gnomon(home, "dag-processor", "--once", "--output", "json")

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["created"] == summary["new_versions"] == summary["dags"] == ["first"]
    assert (summary["deactivated"], summary["import_errors"]) == ([], [])
    assert active_dag_ids(home) == ["first"]


def test_once_again_without_changes_reports_nothing_new(home: Path) -> None:
    gnomon(home, "dag-processor", "--once")

    done = gnomon(home, "dag-processor", "--once")

    assert done.returncode == 0, done.stderr
    assert "Created:       -" in done.stdout
    assert "New versions:  -" in done.stdout


def test_once_lists_import_errors_and_still_exits_0(home: Path) -> None:
    (home / "dags" / "broken.py").write_text("raise RuntimeError('half-written')\n")

    done = gnomon(home, "dag-processor", "--once")

    assert done.returncode == 0, done.stderr
    assert "Import errors: 1" in done.stdout
    assert "broken.py: RuntimeError: half-written" in done.stdout


def test_a_database_never_migrated_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()

    done = gnomon(tmp_path, "dag-processor", "--once")

    assert done.returncode == 1
    assert done.stderr.startswith("Error: the metadata database")
    assert "run `gnomon db migrate` first" in done.stderr


def test_a_missing_dags_folder_fails_once_naming_it(home: Path) -> None:
    done = gnomon(home, "dag-processor", "--once", "--dags-folder", str(home / "nowhere"))

    assert done.returncode == 1
    assert "nowhere" in done.stderr


def test_the_running_processor_stores_a_new_file_and_ends_its_job_on_sigterm(
    home: Path, start_processor: Starter
) -> None:
    proc = start_processor(0.05)
    wait_for(lambda: active_dag_ids(home) == ["first"], timeout=30)

    (home / "dags" / "late.py").write_text(dag_source("late"))
    wait_for(lambda: active_dag_ids(home) == ["first", "late"], timeout=30)
    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=30) == 0, (home / "stderr.log").read_text()
    job = the_job(home)
    assert job.state is JobState.SUCCESS and job.ended_at is not None
    assert job.pid == proc.pid


def test_the_running_processor_logs_one_line_per_sync_that_changed_something(
    home: Path, start_processor: Starter
) -> None:
    proc = start_processor(0.05)
    wait_for(lambda: active_dag_ids(home) == ["first"], timeout=30)
    beat = the_job(home).heartbeat_at
    wait_for(lambda: the_job(home).heartbeat_at > beat, timeout=30)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0

    synced = [
        line
        for line in (home / "stderr.log").read_text().splitlines()
        if "DAGs folder synced" in line
    ]
    assert len(synced) == 1
    assert "created: first" in synced[0]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_during_the_wait_between_passes_ends_it_at_once_with_exit_0(
    home: Path, start_processor: Starter, signum: signal.Signals
) -> None:
    proc = start_processor(600)
    wait_for(lambda: active_dag_ids(home) == ["first"], timeout=30)
    # The first heartbeat comes right after the first pass, before the wait.
    wait_for(lambda: the_job(home).heartbeat_at > the_job(home).started_at, timeout=30)

    began = time.monotonic()
    proc.send_signal(signum)

    assert proc.wait(timeout=30) == 0
    assert time.monotonic() - began < 10
