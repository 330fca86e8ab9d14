"""FailTask and SkipTask in a local run: failing at once, skipping, and what follows a skip."""

# `@task(...)` with arguments is untyped in the authoring API.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from pathlib import Path

from gnomon import DAG, task
from gnomon.exceptions import FailTask, SkipTask
from gnomon.operators import BashOperator
from gnomon.runtime import local_run
from gnomon.runtime.reports import RunReport, TaskInstanceRecord
from gnomon.semantics.states import RunState, TaskState


def _ti(report: RunReport, task_id: str) -> TaskInstanceRecord:
    return next(t for t in report.tasks if t.key.task_id == task_id)


def test_fail_task_fails_at_once_without_using_the_remaining_retries(tmp_path: Path) -> None:
    counter = tmp_path / "executions"
    with DAG("fail_task") as dag:

        @task(retries=3, retry_delay=0)
        def give_up() -> None:
            with counter.open("a") as f:
                f.write("x")
            raise FailTask("the input is unusable")

        give_up()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "give_up")
    assert record.state is TaskState.FAILED
    assert record.try_number == 1
    assert record.tries[0].exit_reason == "fail_task"
    assert record.note == "FailTask: the input is unusable"
    assert counter.read_text() == "x"
    assert report.state is RunState.FAILED


def test_skip_task_ends_the_task_skipped_and_the_run_successful() -> None:
    with DAG("skip_task") as dag:

        @task
        def nothing_to_do() -> None:
            raise SkipTask("no new data")

        nothing_to_do()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "nothing_to_do")
    assert record.state is TaskState.SKIPPED
    assert record.tries[0].exit_reason == "skipped"
    assert record.note == "no new data"
    assert report.state is RunState.SUCCESS


def test_a_skip_skips_an_all_success_downstream_task_without_running_it(tmp_path: Path) -> None:
    ran = tmp_path / "downstream_ran"
    with DAG("skip_propagates") as dag:

        @task
        def nothing_to_do() -> None:
            raise SkipTask("no new data")

        @task
        def load() -> None:
            ran.touch()

        nothing_to_do() >> load()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "load")
    assert record.state is TaskState.SKIPPED
    assert record.tries == []
    assert not ran.exists()
    assert report.state is RunState.SUCCESS


def test_an_all_done_downstream_task_runs_after_a_skip(tmp_path: Path) -> None:
    ran = tmp_path / "downstream_ran"
    with DAG("skip_all_done") as dag:

        @task
        def nothing_to_do() -> None:
            raise SkipTask("no new data")

        @task(trigger_rule="all_done")
        def report_status() -> None:
            ran.touch()

        nothing_to_do() >> report_status()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _ti(report, "report_status").state is TaskState.SUCCESS
    assert ran.exists()


def test_a_bash_command_exiting_99_ends_the_task_skipped() -> None:
    with DAG("skip_bash") as dag:
        BashOperator(task_id="maybe", bash_command="exit 99")

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "maybe")
    assert record.state is TaskState.SKIPPED
    assert record.note == "bash command exited with code 99"


def test_a_bash_command_exiting_non_zero_fails_the_task_naming_the_exit_code() -> None:
    with DAG("fail_bash") as dag:
        BashOperator(task_id="broken", bash_command="exit 3")

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "broken")
    assert record.state is TaskState.FAILED
    assert record.note is not None
    assert "exit code 3" in record.note
