"""Params in a local run: defaults, conf overrides, and bad conf refused before anything runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gnomon import DAG, Param, dag, task
from gnomon.exceptions import ParamValidationError
from gnomon.runtime import local_run
from gnomon.runtime.reports import RunReport
from gnomon.semantics.states import RunState, TaskState


def _params_dag(out: Path, params: dict[str, Any]) -> DAG:
    with DAG("params_dag", params=params) as built:

        @task
        def show(params: dict[str, Any]) -> None:
            out.write_text(json.dumps(params))

        show()
    return built


def _only_state(report: RunReport) -> TaskState:
    (record,) = report.tasks
    return record.state


def test_a_task_sees_the_param_default_when_conf_does_not_set_it(tmp_path: Path) -> None:
    out = tmp_path / "params"
    built = _params_dag(out, {"limit": Param(10, type="integer")})

    local_run.test_dag(built, echo=None, kill_grace=1)

    assert json.loads(out.read_text()) == {"limit": 10}


def test_conf_overrides_a_param_default(tmp_path: Path) -> None:
    out = tmp_path / "params"
    built = _params_dag(out, {"limit": Param(10, type="integer"), "mode": "full"})

    report = local_run.test_dag(built, conf={"limit": 3}, echo=None, kill_grace=1)

    assert report.state is RunState.SUCCESS
    assert json.loads(out.read_text()) == {"limit": 3, "mode": "full"}


def test_conf_failing_a_param_schema_is_refused_naming_the_param_before_anything_runs(
    tmp_path: Path,
) -> None:
    out = tmp_path / "params"
    built = _params_dag(out, {"limit": Param(10, type="integer", minimum=1)})

    with pytest.raises(ParamValidationError, match="param 'limit'") as caught:
        local_run.test_dag(built, conf={"limit": 0}, echo=None, kill_grace=1)

    assert caught.value.param == "limit"
    assert not out.exists()


def test_a_required_param_missing_from_conf_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    out = tmp_path / "params"
    built = _params_dag(out, {"region": Param(type="string")})

    with pytest.raises(ParamValidationError, match="param 'region': is required"):
        local_run.test_dag(built, echo=None, kill_grace=1)

    assert not out.exists()


def test_a_required_param_given_in_conf_is_accepted(tmp_path: Path) -> None:
    out = tmp_path / "params"
    built = _params_dag(out, {"region": Param(type="string")})

    report = local_run.test_dag(built, conf={"region": "eu"}, echo=None, kill_grace=1)

    assert _only_state(report) is TaskState.SUCCESS
    assert json.loads(out.read_text()) == {"region": "eu"}


def test_a_dag_function_argument_reaches_the_task_as_the_runs_param_value(
    tmp_path: Path,
) -> None:
    out = tmp_path / "received"

    @dag(dag_id="params_dag_function")
    def pipeline(batch_size: int = 5) -> None:
        @task
        def show(size: int) -> None:
            out.write_text(str(size))

        show(batch_size)

    local_run.test_dag(pipeline(), conf={"batch_size": 50}, echo=None, kill_grace=1)

    assert out.read_text() == "50"
