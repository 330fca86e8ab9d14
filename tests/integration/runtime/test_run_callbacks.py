"""Task callbacks in a local run: which one is called when, and with what context."""

# `@task(...)` with arguments is untyped in the authoring API.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gnomon import DAG, task
from gnomon.runtime import local_run
from gnomon.semantics.states import TaskState

Callback = Callable[[Mapping[str, Any]], None]


def _recorder(calls: Path, name: str) -> Callback:
    """A callback that appends ``name task_id try_number exception`` to ``calls``."""

    def record(context: Mapping[str, Any]) -> None:
        exception = context.get("exception")
        described = type(exception).__name__ if exception is not None else "-"
        with calls.open("a") as f:
            f.write(f"{name} {context['ti'].task_id} {context['ti'].try_number} {described}\n")

    return record


def _callbacks(calls: Path) -> dict[str, Callback]:
    return {
        name: _recorder(calls, name)
        for name in ("on_success_callback", "on_failure_callback", "on_retry_callback")
    }


def _lines(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


def test_on_success_callback_is_called_with_the_context_after_success(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    with DAG("callbacks_success") as dag:

        @task(**_callbacks(calls))
        def fine() -> None:
            pass

        fine()

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _lines(calls) == ["on_success_callback fine 1 -"]


def test_on_failure_callback_is_called_with_the_exception_when_the_task_fails(
    tmp_path: Path,
) -> None:
    calls = tmp_path / "calls"
    with DAG("callbacks_failure") as dag:

        @task(**_callbacks(calls))
        def broken() -> None:
            raise KeyError("missing")

        broken()

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _lines(calls) == ["on_failure_callback broken 1 KeyError"]


def test_on_retry_callback_is_called_for_each_failure_that_will_be_retried(
    tmp_path: Path,
) -> None:
    calls = tmp_path / "calls"
    with DAG("callbacks_retry") as dag:

        @task(retries=2, retry_delay=0, **_callbacks(calls))
        def broken() -> None:
            raise ValueError("always broken")

        broken()

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _lines(calls) == [
        "on_retry_callback broken 1 ValueError",
        "on_retry_callback broken 2 ValueError",
        "on_failure_callback broken 3 ValueError",
    ]


def test_on_failure_callback_is_called_when_the_task_times_out(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    with DAG("callbacks_timeout") as dag:

        @task(execution_timeout=0.3, **_callbacks(calls))
        def slow() -> None:
            time.sleep(30)

        slow()

    local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _lines(calls) == ["on_failure_callback slow 1 TaskTimeout"]


def test_a_callback_that_raises_does_not_change_the_task_state(tmp_path: Path) -> None:
    def explode(context: Mapping[str, Any]) -> None:
        raise RuntimeError("callback bug")

    with DAG("callbacks_raising") as dag:

        @task(on_success_callback=explode)
        def fine() -> None:
            pass

        fine()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    (record,) = report.tasks
    assert record.state is TaskState.SUCCESS
