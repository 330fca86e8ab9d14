"""Trigger rules end to end: which tasks run after a failure, and the run's final state."""

# `@task(...)` with arguments is untyped in the authoring API.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from pathlib import Path

from gnomon import DAG, task
from gnomon.operators import EmptyOperator
from gnomon.runtime import local_run
from gnomon.runtime.reports import RunReport
from gnomon.semantics.states import RunState, TaskState


def _states(report: RunReport) -> dict[str, TaskState]:
    return {t.key.task_id: t.state for t in report.tasks}


@task
def broken() -> None:
    raise ValueError("broken")


def test_a_one_failed_cleanup_runs_when_one_upstream_fails(tmp_path: Path) -> None:
    ran = tmp_path / "cleanup_ran"
    with DAG("rule_one_failed") as dag:

        @task(trigger_rule="one_failed")
        def cleanup() -> None:
            ran.touch()

        [broken(), EmptyOperator(task_id="fine")] >> cleanup()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _states(report)["cleanup"] is TaskState.SUCCESS
    assert ran.exists()


def test_a_one_failed_cleanup_is_skipped_when_nothing_fails(tmp_path: Path) -> None:
    ran = tmp_path / "cleanup_ran"
    with DAG("rule_one_failed_quiet") as dag:

        @task(trigger_rule="one_failed")
        def cleanup() -> None:
            ran.touch()

        [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")] >> cleanup()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _states(report)["cleanup"] is TaskState.SKIPPED
    assert not ran.exists()
    assert report.state is RunState.SUCCESS


def test_an_all_done_task_runs_once_every_upstream_ended_even_after_a_failure(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "teardown_ran"
    with DAG("rule_all_done") as dag:

        @task(trigger_rule="all_done")
        def teardown() -> None:
            ran.touch()

        [broken(), EmptyOperator(task_id="fine")] >> teardown()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _states(report)["teardown"] is TaskState.SUCCESS
    assert ran.exists()


def test_an_all_success_task_after_a_failure_is_upstream_failed_and_never_runs(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "load_ran"
    with DAG("rule_all_success") as dag:

        @task
        def load() -> None:
            ran.touch()

        broken() >> EmptyOperator(task_id="middle") >> load()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert (states["middle"], states["load"]) == (
        TaskState.UPSTREAM_FAILED,
        TaskState.UPSTREAM_FAILED,
    )
    assert not ran.exists()


def test_the_run_fails_when_a_leaf_fails() -> None:
    with DAG("run_state_failed") as dag:
        EmptyOperator(task_id="start") >> [broken(), EmptyOperator(task_id="fine")]

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert report.state is RunState.FAILED


def test_the_run_fails_when_a_leaf_is_upstream_failed() -> None:
    with DAG("run_state_upstream_failed") as dag:
        broken() >> EmptyOperator(task_id="leaf")

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _states(report)["leaf"] is TaskState.UPSTREAM_FAILED
    assert report.state is RunState.FAILED


def test_the_run_succeeds_when_its_leaves_succeed_or_are_skipped() -> None:
    with DAG("run_state_success") as dag:

        @task.branch
        def pick() -> str:
            return "taken"

        pick() >> [EmptyOperator(task_id="taken"), EmptyOperator(task_id="not_taken")]

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert (states["taken"], states["not_taken"]) == (TaskState.SUCCESS, TaskState.SKIPPED)
    assert report.state is RunState.SUCCESS
