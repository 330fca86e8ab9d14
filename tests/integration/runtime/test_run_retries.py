"""Retries in a local run: how many tries a task gets, when each starts, and what it sees."""

# `@task(...)` with arguments is untyped in the authoring API.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path

from gnomon import DAG, get_current_context, task
from gnomon.runtime import local_run
from gnomon.runtime.reports import RunReport, TaskInstanceRecord
from gnomon.semantics.states import RunState, TaskState


def _ti(report: RunReport, task_id: str) -> TaskInstanceRecord:
    return next(t for t in report.tasks if t.key.task_id == task_id)


def _record_try(counter: Path) -> int:
    """Append one mark per execution to ``counter``; return how many executions so far."""
    with counter.open("a") as f:
        f.write("x")
    return len(counter.read_text())


def _gaps(record: TaskInstanceRecord) -> list[float]:
    """Seconds between the end of each try and the start of the next."""
    return [
        (later.start_date - earlier.end_date).total_seconds()
        for earlier, later in itertools.pairwise(record.tries)
    ]


def test_a_task_failing_twice_succeeds_on_its_third_try_with_two_retries(tmp_path: Path) -> None:
    counter = tmp_path / "executions"
    with DAG("retries_count") as dag:

        @task(retries=2, retry_delay=0)
        def flaky() -> str:
            if _record_try(counter) < 3:
                raise ValueError("not yet")
            return "done"

        flaky()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "flaky")
    assert report.state is RunState.SUCCESS
    assert record.state is TaskState.SUCCESS
    assert record.try_number == 3
    assert [t.state for t in record.tries] == [
        TaskState.FAILED,
        TaskState.FAILED,
        TaskState.SUCCESS,
    ]
    assert [t.try_number for t in record.tries] == [1, 2, 3]
    assert counter.read_text() == "xxx"


def test_a_retry_starts_no_sooner_than_retry_delay_after_the_failed_try_ended(
    tmp_path: Path,
) -> None:
    counter = tmp_path / "executions"
    with DAG("retries_delay") as dag:

        @task(retries=1, retry_delay=timedelta(seconds=1))
        def flaky() -> None:
            if _record_try(counter) == 1:
                raise ValueError("first try fails")

        flaky()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "flaky")
    assert record.state is TaskState.SUCCESS
    first, second = record.tries
    assert second.start_date >= first.end_date + timedelta(seconds=1)


def test_each_try_sees_its_own_try_number_in_the_context(tmp_path: Path) -> None:
    seen = tmp_path / "try_numbers"
    with DAG("retries_try_number") as dag:

        @task(retries=2, retry_delay=0)
        def flaky() -> None:
            try_number = get_current_context()["ti"].try_number
            with seen.open("a") as f:
                f.write(f"{try_number}\n")
            if try_number < 3:
                raise ValueError(f"try {try_number} fails")

        flaky()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    assert _ti(report, "flaky").state is TaskState.SUCCESS
    assert seen.read_text().split() == ["1", "2", "3"]


def test_a_task_that_keeps_failing_ends_failed_once_its_retries_are_exhausted(
    tmp_path: Path,
) -> None:
    counter = tmp_path / "executions"
    with DAG("retries_exhausted") as dag:

        @task(retries=1, retry_delay=0)
        def broken() -> None:
            _record_try(counter)
            raise ValueError("always broken")

        broken()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    record = _ti(report, "broken")
    assert report.state is RunState.FAILED
    assert record.state is TaskState.FAILED
    assert record.try_number == 2
    assert [t.state for t in record.tries] == [TaskState.FAILED, TaskState.FAILED]
    assert record.note == "ValueError: always broken"
    assert counter.read_text() == "xx"


def test_exponential_backoff_doubles_the_wait_before_each_retry(tmp_path: Path) -> None:
    with DAG("retries_backoff") as dag:

        @task(retries=2, retry_delay=0.3, retry_exponential_backoff=True)
        def broken() -> None:
            raise ValueError("always broken")

        broken()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    first_wait, second_wait = _gaps(_ti(report, "broken"))
    assert first_wait >= 0.3
    assert second_wait >= 0.6
    assert second_wait > first_wait


def test_the_report_records_every_try_in_its_json(tmp_path: Path) -> None:
    counter = tmp_path / "executions"
    with DAG("retries_json") as dag:

        @task(retries=1, retry_delay=0)
        def flaky() -> None:
            if _record_try(counter) == 1:
                raise ValueError("first try fails")

        flaky()

    report = local_run.test_dag(dag, echo=None, kill_grace=1)

    data = json.loads(json.dumps(report.to_json()))
    (flaky_json,) = data["tasks"]
    assert flaky_json["state"] == "success"
    assert flaky_json["try_number"] == 2
    assert [(t["try_number"], t["state"], t["exit_reason"]) for t in flaky_json["tries"]] == [
        (1, "failed", "exception"),
        (2, "success", "success"),
    ]
    assert flaky_json["tries"][0]["error"] == "ValueError: first try fails"
