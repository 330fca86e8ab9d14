"""The running task's context: reachable inside a task, refused outside one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gnomon import DAG, get_current_context, task
from gnomon.runtime import local_run


def test_get_current_context_outside_a_task_raises_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="outside a running task"):
        get_current_context()


def test_get_current_context_inside_a_task_describes_the_running_try(tmp_path: Path) -> None:
    out = tmp_path / "context"
    with DAG("context_inside", params={"x": 1}) as dag:

        @task
        def describe() -> None:
            context = get_current_context()
            ti = context["ti"]
            out.write_text(
                json.dumps(
                    {
                        "ds": context["ds"],
                        "run_id": context["run_id"],
                        "params": context["params"],
                        "conf": dict(context["dag_run"].conf),
                        "ti": [ti.dag_id, ti.task_id, ti.map_index, ti.try_number],
                    }
                )
            )

        describe()

    local_run.test_dag(
        dag,
        logical_date=datetime(2024, 3, 1, tzinfo=UTC),
        conf={"x": 2},
        echo=None,
        kill_grace=1,
    )

    assert json.loads(out.read_text()) == {
        "ds": "2024-03-01",
        "run_id": "manual__2024-03-01T00:00:00+00:00",
        "params": {"x": 2},
        "conf": {"x": 2},
        "ti": ["context_inside", "describe", -1, 1],
    }


def test_get_current_context_is_gone_again_after_a_local_run() -> None:
    with DAG("context_after") as dag:

        @task
        def touch_context() -> None:
            get_current_context()

        touch_context()

    local_run.test_dag(dag, echo=None, kill_grace=1)

    with pytest.raises(RuntimeError):
        get_current_context()
