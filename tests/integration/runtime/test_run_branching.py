"""Branches and short-circuits in a local run: what they skip, and what still runs after them."""

# `@task(...)` with arguments is untyped in the authoring API.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from pathlib import Path
from typing import Any

from gnomon import DAG, TaskGroup, task
from gnomon.operators import BranchPythonOperator, EmptyOperator, ShortCircuitOperator
from gnomon.runtime import local_run
from gnomon.runtime.reports import RunReport
from gnomon.semantics.states import RunState, TaskState


def _states(report: RunReport) -> dict[str, TaskState]:
    return {t.key.task_id: t.state for t in report.tasks}


def _choose(choice: Any) -> Any:
    @task.branch
    def pick() -> Any:
        return choice

    return pick()


# -- branches ----------------------------------------------------------------------------------


def test_a_branch_returning_one_task_id_runs_it_and_skips_the_other_direct_downstream() -> None:
    with DAG("branch_one") as dag:
        _choose("left") >> [EmptyOperator(task_id="left"), EmptyOperator(task_id="right")]

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert states["left"] is TaskState.SUCCESS
    assert states["right"] is TaskState.SKIPPED
    assert report.state is RunState.SUCCESS


def test_a_branch_returning_a_list_runs_every_task_in_it() -> None:
    with DAG("branch_list") as dag:
        _choose(["a", "c"]) >> [EmptyOperator(task_id=tid) for tid in ("a", "b", "c")]

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert (states["a"], states["b"], states["c"]) == (
        TaskState.SUCCESS,
        TaskState.SKIPPED,
        TaskState.SUCCESS,
    )


def test_a_branch_returning_none_skips_every_direct_downstream_task() -> None:
    with DAG("branch_none") as dag:
        _choose(None) >> [EmptyOperator(task_id="a"), EmptyOperator(task_id="b")]

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert states["pick"] is TaskState.SUCCESS
    assert (states["a"], states["b"]) == (TaskState.SKIPPED, TaskState.SKIPPED)


def test_a_branch_returning_a_task_group_id_runs_the_whole_group() -> None:
    with DAG("branch_group") as dag:
        with TaskGroup("heavy") as heavy:
            EmptyOperator(task_id="extract") >> EmptyOperator(task_id="load")
        _choose("heavy") >> [heavy, EmptyOperator(task_id="light")]

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert states["heavy.extract"] is TaskState.SUCCESS
    assert states["heavy.load"] is TaskState.SUCCESS
    assert states["light"] is TaskState.SKIPPED


def test_a_branch_python_operator_follows_the_task_id_its_callable_returns() -> None:
    with DAG("branch_classic") as dag:
        pick = BranchPythonOperator(task_id="pick", python_callable=lambda: "right")
        pick >> [EmptyOperator(task_id="left"), EmptyOperator(task_id="right")]

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert (states["left"], states["right"]) == (TaskState.SKIPPED, TaskState.SUCCESS)


def test_a_join_with_none_failed_min_one_success_runs_after_a_branch(tmp_path: Path) -> None:
    ran = tmp_path / "join_ran"
    with DAG("branch_join") as dag:

        @task(trigger_rule="none_failed_min_one_success")
        def join() -> None:
            ran.touch()

        branches = [EmptyOperator(task_id="left"), EmptyOperator(task_id="right")]
        _choose("left") >> branches >> join()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert states["right"] is TaskState.SKIPPED
    assert states["join"] is TaskState.SUCCESS
    assert ran.exists()
    assert report.state is RunState.SUCCESS


def test_a_branch_choosing_a_task_not_directly_downstream_fails_naming_it() -> None:
    with DAG("branch_wrong") as dag:
        EmptyOperator(task_id="elsewhere")
        _choose("elsewhere") >> [EmptyOperator(task_id="left"), EmptyOperator(task_id="right")]

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    pick = next(t for t in report.tasks if t.key.task_id == "pick")
    assert pick.state is TaskState.FAILED
    assert pick.note is not None
    assert "'elsewhere'" in pick.note
    assert "not directly downstream" in pick.note
    states = _states(report)
    assert (states["left"], states["right"]) == (
        TaskState.UPSTREAM_FAILED,
        TaskState.UPSTREAM_FAILED,
    )
    assert report.state is RunState.FAILED


# -- short-circuits ----------------------------------------------------------------------------


def test_a_falsy_short_circuit_skips_everything_downstream_whatever_its_trigger_rule() -> None:
    with DAG("short_circuit_falsy") as dag:
        check = ShortCircuitOperator(task_id="check", python_callable=lambda: 0)
        (
            check
            >> EmptyOperator(task_id="next")
            >> EmptyOperator(task_id="end", trigger_rule="all_done")
        )

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert states["check"] is TaskState.SUCCESS
    assert (states["next"], states["end"]) == (TaskState.SKIPPED, TaskState.SKIPPED)
    assert report.state is RunState.SUCCESS


def test_a_truthy_short_circuit_lets_downstream_tasks_run() -> None:
    with DAG("short_circuit_truthy") as dag:

        @task.short_circuit
        def check() -> bool:
            return True

        check() >> EmptyOperator(task_id="next") >> EmptyOperator(task_id="end")

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert (states["next"], states["end"]) == (TaskState.SUCCESS, TaskState.SUCCESS)


def test_a_short_circuit_respecting_trigger_rules_skips_only_its_direct_downstream() -> None:
    with DAG("short_circuit_direct") as dag:

        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def check() -> bool:
            return False

        (
            check()
            >> EmptyOperator(task_id="next")
            >> [
                EmptyOperator(task_id="after"),
                EmptyOperator(task_id="cleanup", trigger_rule="all_done"),
            ]
        )

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    states = _states(report)
    assert states["next"] is TaskState.SKIPPED
    assert states["after"] is TaskState.SKIPPED
    assert states["cleanup"] is TaskState.SUCCESS
