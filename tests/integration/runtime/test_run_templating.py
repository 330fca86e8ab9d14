"""Templated fields in a local run: what templates see, and how a bad template fails."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gnomon import DAG
from gnomon.operators import BashOperator, PythonOperator
from gnomon.runtime import local_run
from gnomon.runtime.reports import RunReport, TaskInstanceRecord
from gnomon.semantics.states import TaskState

LOGICAL_DATE = datetime(2024, 3, 1, 6, 30, tzinfo=UTC)


def _ti(report: RunReport, task_id: str) -> TaskInstanceRecord:
    return next(t for t in report.tasks if t.key.task_id == task_id)


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("{{ ds }}", "2024-03-01"),
        ("{{ ds_nodash }}", "20240301"),
        ("{{ params.x }}", "7"),
        ("{{ dag_run.conf['y'] }}", "from conf"),
        ("{{ macros.ds_add(ds, 1) }}", "2024-03-02"),
        ("{{ ti.try_number }}", "1"),
    ],
)
def test_a_bash_command_is_rendered_with_the_run_context(
    tmp_path: Path, template: str, rendered: str
) -> None:
    out = tmp_path / "rendered"
    with DAG("template_bash", params={"x": 7}) as dag:
        BashOperator(task_id="show", bash_command=f'printf "%s" "{template}" > {out}')

    report = local_run.test_dag(
        dag, logical_date=LOGICAL_DATE, conf={"y": "from conf"}, echo=None, kill_grace=1
    )

    assert _ti(report, "show").state is TaskState.SUCCESS
    assert out.read_text() == rendered


def test_a_bash_operator_env_is_rendered(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    with DAG("template_bash_env") as dag:
        BashOperator(
            task_id="show",
            bash_command=f'printf "%s" "$DAY" > {out}',
            env={"DAY": "{{ ds }}"},
        )

    local_run.test_dag(dag, logical_date=LOGICAL_DATE, echo=None, kill_grace=1)

    assert out.read_text() == "2024-03-01"


def test_python_operator_op_kwargs_and_templates_dict_are_rendered(tmp_path: Path) -> None:
    out = tmp_path / "rendered"

    def show(day: str, templates_dict: dict[str, Any]) -> None:
        out.write_text(f"{day} {templates_dict['tomorrow']}")

    with DAG("template_python") as dag:
        PythonOperator(
            task_id="show",
            python_callable=show,
            op_kwargs={"day": "{{ ds }}"},
            templates_dict={"tomorrow": "{{ macros.ds_add(ds, 1) }}"},
        )

    local_run.test_dag(dag, logical_date=LOGICAL_DATE, echo=None, kill_grace=1)

    assert out.read_text() == "2024-03-01 2024-03-02"


def test_python_operator_op_args_are_rendered(tmp_path: Path) -> None:
    out = tmp_path / "rendered"

    def show(run_id: str) -> None:
        out.write_text(run_id)

    with DAG("template_python_args") as dag:
        PythonOperator(task_id="show", python_callable=show, op_args=["{{ run_id }}"])

    local_run.test_dag(dag, logical_date=LOGICAL_DATE, echo=None, kill_grace=1)

    assert out.read_text() == "manual__2024-03-01T06:30:00+00:00"


def test_a_template_can_pull_an_upstream_xcom(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    template = "{{ ti.xcom_pull(task_ids='produce') }}"
    with DAG("template_xcom_pull") as dag:
        produce = PythonOperator(task_id="produce", python_callable=lambda: "from upstream")
        produce >> BashOperator(task_id="show", bash_command=f'printf "%s" "{template}" > {out}')

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert out.read_text() == "from upstream"


def test_an_undefined_template_name_fails_the_task_naming_the_name_and_the_field(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "ran"
    echo = io.StringIO()
    with DAG("template_undefined") as dag:
        BashOperator(task_id="show", bash_command=f"echo {{{{ no_such_name }}}} > {ran}")

    report = local_run.test_dag(dag, echo=echo, kill_grace=1)

    record = _ti(report, "show")
    assert record.state is TaskState.FAILED
    assert record.note is not None
    assert "'no_such_name' is undefined" in record.note
    assert "'bash_command'" in record.note
    assert record.tries[-1].error == record.note
    assert "'no_such_name' is undefined" in echo.getvalue()
    assert not ran.exists()
