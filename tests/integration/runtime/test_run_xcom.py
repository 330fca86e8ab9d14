"""XComs in a local run: results flowing between tasks, explicit push and pull, and limits."""

# `@task(...)` with arguments is untyped in the authoring API.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gnomon import DAG, task
from gnomon.operators import PythonOperator
from gnomon.runtime import local_run
from gnomon.runtime.reports import RunReport, TaskInstanceRecord
from gnomon.semantics.states import TaskState


def _ti(report: RunReport, task_id: str) -> TaskInstanceRecord:
    return next(t for t in report.tasks if t.key.task_id == task_id)


def test_a_task_return_value_is_passed_to_the_task_that_takes_it(tmp_path: Path) -> None:
    out = tmp_path / "received"
    with DAG("xcom_return") as dag:

        @task
        def produce() -> list[Any]:
            return [1, "two", {"three": 3.0}]

        @task
        def consume(value: Any) -> None:
            out.write_text(json.dumps(value))

        consume(produce())

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert json.loads(out.read_text()) == [1, "two", {"three": 3.0}]


def test_multiple_outputs_pushes_each_key_of_the_returned_dict(tmp_path: Path) -> None:
    out = tmp_path / "received"
    with DAG("xcom_multiple_outputs") as dag:

        @task(multiple_outputs=True)
        def produce() -> Any:
            return {"a": 1, "b": "bee"}

        @task
        def consume(a: int, b: str) -> None:
            out.write_text(f"{a} {b}")

        result = produce()
        consume(result["a"], result["b"])

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert out.read_text() == "1 bee"


def test_multiple_outputs_with_a_return_value_that_is_not_a_dict_fails_the_task(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "downstream_ran"
    with DAG("xcom_multiple_outputs_not_dict") as dag:

        @task(multiple_outputs=True)
        def produce() -> Any:
            return [1, 2]

        @task
        def consume(a: Any) -> None:
            ran.touch()

        consume(produce()["a"])

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "produce")
    assert record.state is TaskState.FAILED
    assert record.note == (
        "XComError: task 'produce' has multiple_outputs=True but returned list, not a dict"
    )
    assert not ran.exists()


def test_a_python_callable_pulls_what_another_pushed_under_a_key(tmp_path: Path) -> None:
    out = tmp_path / "received"

    def push(ti: Any) -> None:
        ti.xcom_push(key="k", value={"rows": 42})

    def pull(ti: Any) -> None:
        out.write_text(json.dumps(ti.xcom_pull(task_ids="push", key="k")))

    with DAG("xcom_push_pull") as dag:
        PythonOperator(task_id="push", python_callable=push) >> PythonOperator(
            task_id="pull", python_callable=pull
        )

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert json.loads(out.read_text()) == {"rows": 42}


def test_pulling_a_list_of_task_ids_gives_their_values_in_that_order(tmp_path: Path) -> None:
    out = tmp_path / "received"

    def pull(ti: Any) -> None:
        out.write_text(json.dumps(ti.xcom_pull(task_ids=["second", "first", "silent"])))

    with DAG("xcom_pull_many") as dag:
        sources = [
            PythonOperator(task_id="first", python_callable=lambda: 1),
            PythonOperator(task_id="second", python_callable=lambda: 2),
            PythonOperator(task_id="silent", python_callable=lambda: None),
        ]
        sources >> PythonOperator(task_id="pull", python_callable=pull)

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert json.loads(out.read_text()) == [2, 1, None]


def test_a_return_value_that_is_not_json_serializable_fails_the_task_naming_it(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "downstream_ran"
    with DAG("xcom_not_json") as dag:

        @task
        def produce() -> Any:
            return {1, 2}

        @task
        def consume(value: Any) -> None:
            ran.touch()

        consume(produce())

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "produce")
    assert record.state is TaskState.FAILED
    assert record.note is not None
    assert "task 'produce'" in record.note
    assert "not JSON-serializable" in record.note
    assert _ti(report, "consume").state is TaskState.UPSTREAM_FAILED
    assert not ran.exists()


def test_a_value_over_max_xcom_bytes_fails_the_task_instead_of_being_truncated(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "downstream_ran"
    with DAG("xcom_too_large") as dag:

        @task
        def produce() -> str:
            return "x" * 200

        @task
        def consume(value: str) -> None:
            ran.write_text(value)

        consume(produce())

    report = local_run.test_dag(dag, echo=None, kill_grace=1, max_xcom_bytes=100)

    record = _ti(report, "produce")
    assert record.state is TaskState.FAILED
    assert record.note is not None
    assert "task 'produce'" in record.note
    assert "202 bytes, over the limit of 100" in record.note
    assert _ti(report, "consume").state is TaskState.UPSTREAM_FAILED
    assert not ran.exists()


def test_a_value_of_exactly_max_xcom_bytes_is_passed_whole(tmp_path: Path) -> None:
    out = tmp_path / "received"
    with DAG("xcom_at_limit") as dag:

        @task
        def produce() -> str:
            return "x" * 98  # 100 bytes as JSON, with its quotes

        @task
        def consume(value: str) -> None:
            out.write_text(value)

        consume(produce())

    report = local_run.test_dag(dag, echo=None, kill_grace=1, max_xcom_bytes=100)

    assert _ti(report, "produce").state is TaskState.SUCCESS
    assert out.read_text() == "x" * 98
