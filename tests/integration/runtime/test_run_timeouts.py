"""execution_timeout in a local run: the try stops, everything it started dies, retries apply."""

# `@task(...)` with arguments is untyped in the authoring API.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import functools
import io
import time
from pathlib import Path

from support.processes import eventually as _eventually
from support.processes import is_gone as _is_gone

from gnomon import DAG, get_current_context, task
from gnomon.operators import BashOperator
from gnomon.runtime import local_run
from gnomon.runtime.reports import RunReport, TaskInstanceRecord
from gnomon.semantics.states import TaskState


def _ti(report: RunReport, task_id: str) -> TaskInstanceRecord:
    return next(t for t in report.tasks if t.key.task_id == task_id)


def _duration(record: TaskInstanceRecord, index: int = 0) -> float:
    attempt = record.tries[index]
    return (attempt.end_date - attempt.start_date).total_seconds()


def test_a_bash_command_past_its_timeout_fails_with_exit_reason_timeout(tmp_path: Path) -> None:
    with DAG("timeout_bash") as dag:
        BashOperator(
            task_id="slow", bash_command="sleep 100 & sleep 100; wait", execution_timeout=1
        )

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "slow")
    assert record.state is TaskState.FAILED
    assert record.tries[0].exit_reason == "timeout"
    assert record.note == "TaskTimeout: execution_timeout of 1s exceeded"
    # Stopped by the timeout itself, not by the SIGKILL that comes kill_grace later.
    assert 1.0 <= _duration(record) < 1.9


def test_a_timeout_kills_every_process_the_bash_command_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = f"echo $$ >> {pids}; sleep 60 & echo $! >> {pids}; sleep 61 & echo $! >> {pids}; wait"
    with DAG("timeout_bash_children") as dag:
        BashOperator(task_id="slow", bash_command=command, execution_timeout=1)

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _ti(report, "slow").tries[0].exit_reason == "timeout"
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 3
    for pid in started:
        assert _eventually(functools.partial(_is_gone, pid)), f"process {pid} survived the timeout"


def test_a_python_task_sleeping_past_its_timeout_fails_with_exit_reason_timeout() -> None:
    with DAG("timeout_python") as dag:

        @task(execution_timeout=0.5)
        def slow() -> None:
            time.sleep(30)

        slow()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "slow")
    assert record.state is TaskState.FAILED
    assert record.tries[0].exit_reason == "timeout"
    assert record.note == "TaskTimeout: execution_timeout of 0.5s exceeded"


def test_a_task_catching_exception_cannot_swallow_its_timeout() -> None:
    with DAG("timeout_swallowed") as dag:

        @task(execution_timeout=0.5)
        def stubborn() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    time.sleep(30)
                except Exception:
                    print("ignoring", flush=True)

        stubborn()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "stubborn")
    assert record.state is TaskState.FAILED
    assert record.tries[0].exit_reason == "timeout"
    # Ended by the timeout itself, not by the SIGKILL that comes kill_grace later.
    assert record.note == "TaskTimeout: execution_timeout of 0.5s exceeded"


def test_a_try_that_outlives_its_timeout_by_the_kill_grace_is_killed() -> None:
    echo = io.StringIO()
    with DAG("timeout_hard_kill") as dag:

        @task(execution_timeout=0.3)
        def unkillable() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    time.sleep(30)
                except BaseException:
                    print("ignoring even the timeout", flush=True)

        unkillable()

    report = local_run.test_dag(dag, echo=echo, kill_grace=0.5)

    record = _ti(report, "unkillable")
    assert record.state is TaskState.FAILED
    assert record.tries[0].exit_reason == "timeout"
    assert record.note == (
        "execution_timeout exceeded and the try did not stop within 0.5s: killed"
    )
    assert 0.8 <= _duration(record) < 2.5
    assert "execution_timeout exceeded and the try did not stop: killing it" in echo.getvalue()


def test_a_timed_out_try_is_retried_while_retries_remain(tmp_path: Path) -> None:
    with DAG("timeout_retried") as dag:

        @task(execution_timeout=0.5, retries=1, retry_delay=0)
        def slow_then_fast() -> str:
            if get_current_context()["ti"].try_number == 1:
                time.sleep(30)
            return "fast enough"

        slow_then_fast()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "slow_then_fast")
    assert record.state is TaskState.SUCCESS
    assert [t.exit_reason for t in record.tries] == ["timeout", "success"]
