"""Dynamic task mapping in a local run: how many instances, what each gets, what follows."""

# `@task(...)` with arguments is untyped in the authoring API.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gnomon import DAG, task
from gnomon.operators import BashOperator
from gnomon.runtime import local_run
from gnomon.runtime.reports import RunReport, TaskInstanceRecord
from gnomon.semantics.states import RunState, TaskState


def _instances(report: RunReport, task_id: str) -> list[TaskInstanceRecord]:
    return [t for t in report.tasks if t.key.task_id == task_id]


def _collector(out: Path) -> Any:
    """A task that writes the value it receives to ``out`` as JSON."""

    @task
    def collect(values: Any) -> None:
        out.write_text(json.dumps(values))

    return collect


def test_mapping_over_a_literal_list_makes_one_instance_per_element(tmp_path: Path) -> None:
    out = tmp_path / "collected"
    with DAG("map_literal") as dag:

        @task
        def double(x: int) -> int:
            return 2 * x

        _collector(out)(double.expand(x=[1, 2, 3]))

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    instances = _instances(report, "double")
    assert [t.key.map_index for t in instances] == [0, 1, 2]
    assert all(t.state is TaskState.SUCCESS for t in instances)
    assert json.loads(out.read_text()) == [2, 4, 6]


def test_mapping_over_an_upstream_list_expands_once_it_is_known(tmp_path: Path) -> None:
    out = tmp_path / "collected"
    with DAG("map_upstream") as dag:

        @task
        def numbers() -> list[int]:
            return [1, 2, 3]

        @task
        def times_ten(x: int) -> int:
            return 10 * x

        _collector(out)(times_ten.expand(x=numbers()))

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    instances = _instances(report, "times_ten")
    assert [t.key.map_index for t in instances] == [0, 1, 2]
    assert all(t.state is TaskState.SUCCESS for t in instances)
    assert json.loads(out.read_text()) == [10, 20, 30]
    assert report.state is RunState.SUCCESS


def test_mapping_over_a_dict_gives_each_instance_a_key_value_pair(tmp_path: Path) -> None:
    with DAG("map_dict") as dag:

        @task
        def settings() -> dict[str, int]:
            return {"a": 1, "b": 2}

        @task
        def show(pair: Any) -> None:
            key, value = pair
            (tmp_path / f"pair-{key}").write_text(f"{type(pair).__name__} {key}={value}")

        show.expand(pair=settings())

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert [t.key.map_index for t in _instances(report, "show")] == [0, 1]
    assert (tmp_path / "pair-a").read_text() == "tuple a=1"
    assert (tmp_path / "pair-b").read_text() == "tuple b=2"


def test_mapping_over_a_literal_dict_gives_each_instance_a_key_value_pair(tmp_path: Path) -> None:
    out = tmp_path / "collected"
    with DAG("map_literal_dict") as dag:

        @task
        def show(pair: Any) -> str:
            key, value = pair
            return f"{key}={value}"

        _collector(out)(show.expand(pair={"x": 1, "y": 2}))

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert json.loads(out.read_text()) == ["x=1", "y=2"]


def test_mapping_over_an_empty_list_gives_one_skipped_instance_and_skips_downstream(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "ran"
    with DAG("map_empty") as dag:

        @task
        def nothing() -> list[int]:
            return []

        @task
        def each(x: int) -> None:
            ran.touch()

        @task
        def after(values: Any) -> None:
            ran.touch()

        after(each.expand(x=nothing()))

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    (instance,) = _instances(report, "each")
    assert instance.key.map_index == -1
    assert instance.state is TaskState.SKIPPED
    assert instance.tries == []
    assert _instances(report, "after")[0].state is TaskState.SKIPPED
    assert not ran.exists()
    assert report.state is RunState.SUCCESS


def test_mapping_over_an_empty_literal_list_gives_one_skipped_instance() -> None:
    with DAG("map_empty_literal") as dag:

        @task
        def each(x: int) -> None:
            pass

        each.expand(x=[])

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    (instance,) = _instances(report, "each")
    assert (instance.key.map_index, instance.state) == (-1, TaskState.SKIPPED)


def test_partial_fixes_arguments_shared_by_every_mapped_instance(tmp_path: Path) -> None:
    out = tmp_path / "collected"
    with DAG("map_partial") as dag:

        @task
        def add(x: int, y: int) -> int:
            return x + y

        _collector(out)(add.partial(y=100).expand(x=[1, 2]))

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert json.loads(out.read_text()) == [101, 102]


def test_a_classic_operator_maps_with_partial_and_expand(tmp_path: Path) -> None:
    out = tmp_path / "collected"
    with DAG("map_bash") as dag:
        echoes = BashOperator.partial(task_id="echo", retries=0).expand(
            bash_command=["echo one", "echo two", "echo three"]
        )
        _collector(out)(echoes.output)

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    instances = _instances(report, "echo")
    assert [t.key.map_index for t in instances] == [0, 1, 2]
    assert all(t.state is TaskState.SUCCESS for t in instances)
    assert json.loads(out.read_text()) == ["one", "two", "three"]


def test_mapping_over_two_arguments_runs_their_cross_product(tmp_path: Path) -> None:
    out = tmp_path / "collected"
    with DAG("map_cross") as dag:

        @task
        def combine(x: int, y: str) -> str:
            return f"{x}{y}"

        _collector(out)(combine.expand(x=[1, 2], y=["a", "b"]))

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert [t.key.map_index for t in _instances(report, "combine")] == [0, 1, 2, 3]
    assert json.loads(out.read_text()) == ["1a", "1b", "2a", "2b"]


def test_mapping_over_an_upstream_value_that_is_not_a_list_fails_saying_so() -> None:
    with DAG("map_not_a_list") as dag:

        @task
        def five() -> int:
            return 5

        @task
        def each(x: int) -> None:
            pass

        each.expand(x=five())

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    (instance,) = _instances(report, "each")
    assert instance.state is TaskState.FAILED
    assert instance.tries == []
    assert instance.note is not None
    assert "'x'" in instance.note
    assert "'five'" in instance.note
    assert "not a list or a dict" in instance.note
    assert report.state is RunState.FAILED


def test_each_mapped_instance_is_retried_on_its_own(tmp_path: Path) -> None:
    with DAG("map_retries") as dag:

        @task(retries=1, retry_delay=0)
        def fragile(x: int) -> int:
            marker = tmp_path / f"tried-{x}"
            if x == 2 and not marker.exists():
                marker.touch()
                raise ValueError("first try of 2 fails")
            return x

        fragile.expand(x=[1, 2, 3])

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert [(t.key.map_index, t.state, t.try_number) for t in _instances(report, "fragile")] == [
        (0, TaskState.SUCCESS, 1),
        (1, TaskState.SUCCESS, 2),
        (2, TaskState.SUCCESS, 1),
    ]
