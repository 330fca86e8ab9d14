"""Tries that end abnormally, and runs cut short: the run records why, and nothing leaks."""

# `@task(...)` with arguments is untyped in the authoring API.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import functools
import io
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from support.processes import eventually as _eventually
from support.processes import is_gone as _is_gone

from gnomon import DAG, task
from gnomon.operators import BashOperator
from gnomon.runtime import local_run
from gnomon.runtime.reports import TaskInstanceRecord
from gnomon.semantics.states import RunState, TaskState


class _Interrupted(Exception):
    """Stands for Ctrl-C reaching the process that drives the run."""


class _InterruptingEcho(io.StringIO):
    """An echo stream that raises once a try prints ``marker``."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def write(self, text: str, /) -> int:
        written = super().write(text)
        if self.marker in text:
            raise _Interrupted(text)
        return written


def _only(dag: DAG) -> TaskInstanceRecord:
    (record,) = local_run.test_dag(dag, echo=None, kill_grace=1).tasks
    return record


def test_a_task_calling_sys_exit_fails_with_a_runtime_error() -> None:
    with DAG("exit_sys_exit") as dag:

        @task
        def quits() -> None:
            sys.exit(0)

        quits()

    record = _only(dag)

    assert record.state is TaskState.FAILED
    assert record.note == "runtime error: SystemExit: 0"


def test_a_try_process_exiting_without_a_result_fails_with_its_exit_code() -> None:
    with DAG("exit_os_exit") as dag:

        @task
        def vanishes() -> None:
            os._exit(3)

        vanishes()

    record = _only(dag)

    assert record.state is TaskState.FAILED
    assert record.note == "try process exited with code 3 without a result"


def test_a_try_process_killed_by_a_signal_fails_naming_the_signal() -> None:
    with DAG("exit_signal") as dag:

        @task
        def killed() -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        killed()

    record = _only(dag)

    assert record.state is TaskState.FAILED
    assert record.note == "try process killed by signal SIGKILL"


def test_a_crashed_try_is_retried_while_retries_remain(tmp_path: Path) -> None:
    marker = tmp_path / "crashed_once"
    with DAG("exit_retried") as dag:

        @task(retries=1, retry_delay=0)
        def crashes_once() -> None:
            if not marker.exists():
                marker.touch()
                os._exit(1)

        crashes_once()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    (record,) = report.tasks
    assert report.state is RunState.SUCCESS
    assert [t.state for t in record.tries] == [TaskState.FAILED, TaskState.SUCCESS]


def test_a_run_interrupted_while_tries_run_kills_them_and_what_they_started(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    command = f"echo $$ >> {pids}; sleep 60 & echo $! >> {pids}; echo children-started; wait"
    echo = _InterruptingEcho("children-started")
    with DAG("exit_interrupted") as dag:
        BashOperator(task_id="long", bash_command=command)

    with pytest.raises(_Interrupted):
        local_run.test_dag(dag, echo=echo, kill_grace=1)

    try_pids = [int(p) for p in re.findall(r"try process started: pid (\d+)", echo.getvalue())]
    started = try_pids + [int(line) for line in pids.read_text().split()]
    assert len(started) == 3
    for pid in started:
        assert _eventually(functools.partial(_is_gone, pid)), f"process {pid} outlived the run"
