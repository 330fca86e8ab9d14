"""Try logs in a local run: one file per try at a known place, with everything the try printed."""

# `@task(...)` with arguments is untyped in the authoring API.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gnomon import DAG, get_current_context, task
from gnomon.operators import BashOperator, EmptyOperator
from gnomon.runtime import local_run

LOGICAL_DATE = datetime(2024, 3, 1, tzinfo=UTC)
#: The run id ``manual__2024-03-01T00:00:00+00:00`` with ':' and '+' made path-safe.
RUN_DIR = "manual__2024-03-01T00_00_00_00_00"
TIMESTAMPED = re.compile(r"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00\] ")


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_each_try_writes_its_own_log_file_under_dag_run_and_task(tmp_path: Path) -> None:
    with DAG("logs_per_try") as dag:

        @task(retries=1, retry_delay=0)
        def flaky() -> None:
            try_number = get_current_context()["ti"].try_number
            print(f"this is try {try_number}")
            if try_number == 1:
                raise ValueError("first try fails")

        flaky()

    report = local_run.test_dag(
        dag, logical_date=LOGICAL_DATE, echo=None, log_dir=tmp_path, kill_grace=1
    )

    task_dir = tmp_path / "logs_per_try" / RUN_DIR / "flaky"
    assert sorted(p.name for p in task_dir.iterdir()) == ["try-1.log", "try-2.log"]
    first, second = task_dir / "try-1.log", task_dir / "try-2.log"
    assert "this is try 1" in first.read_text()
    assert "this is try 2" not in first.read_text()
    assert "this is try 2" in second.read_text()
    (record,) = report.tasks
    assert [t.log_path for t in record.tries] == [str(first), str(second)]


def test_every_log_line_is_timestamped(tmp_path: Path) -> None:
    with DAG("logs_timestamps") as dag:

        @task
        def talk() -> None:
            print("hello from the task")

        talk()

    local_run.test_dag(dag, logical_date=LOGICAL_DATE, echo=None, log_dir=tmp_path, kill_grace=1)

    lines = _lines(tmp_path / "logs_timestamps" / RUN_DIR / "talk" / "try-1.log")
    assert any(line.endswith("] hello from the task") for line in lines)
    assert all(TIMESTAMPED.match(line) for line in lines), lines


def test_the_log_holds_the_output_of_a_bash_command_and_its_children(tmp_path: Path) -> None:
    command = "echo from bash; sh -c 'echo from a child; echo child stderr >&2'"
    with DAG("logs_bash") as dag:
        BashOperator(task_id="shell", bash_command=command)

    local_run.test_dag(dag, logical_date=LOGICAL_DATE, echo=None, log_dir=tmp_path, kill_grace=1)

    text = (tmp_path / "logs_bash" / RUN_DIR / "shell" / "try-1.log").read_text()
    assert "] from bash\n" in text
    assert "] from a child\n" in text
    assert "] child stderr\n" in text


def test_the_log_holds_what_the_try_process_writes_to_its_file_descriptors(
    tmp_path: Path,
) -> None:
    with DAG("logs_fds") as dag:

        @task
        def low_level() -> None:
            os.write(1, b"straight to fd 1\n")
            os.write(2, b"straight to fd 2\n")
            os.system("echo from a subprocess")

        low_level()

    local_run.test_dag(dag, logical_date=LOGICAL_DATE, echo=None, log_dir=tmp_path, kill_grace=1)

    text = (tmp_path / "logs_fds" / RUN_DIR / "low_level" / "try-1.log").read_text()
    assert "] straight to fd 1\n" in text
    assert "] straight to fd 2\n" in text
    assert "] from a subprocess\n" in text


def test_a_mapped_instance_logs_under_its_map_index(tmp_path: Path) -> None:
    with DAG("logs_mapped") as dag:

        @task
        def each(x: str) -> None:
            print(f"item {x}")

        each.expand(x=["a", "b"])

    local_run.test_dag(dag, logical_date=LOGICAL_DATE, echo=None, log_dir=tmp_path, kill_grace=1)

    task_dir = tmp_path / "logs_mapped" / RUN_DIR / "each"
    assert "item a" in (task_dir / "0" / "try-1.log").read_text()
    assert "item b" in (task_dir / "1" / "try-1.log").read_text()


def test_the_log_records_the_failure_traceback_and_how_the_try_ended(tmp_path: Path) -> None:
    with DAG("logs_failure") as dag:

        @task
        def broken() -> None:
            raise ValueError("the reason it broke")

        broken()

    local_run.test_dag(dag, logical_date=LOGICAL_DATE, echo=None, log_dir=tmp_path, kill_grace=1)

    text = (tmp_path / "logs_failure" / RUN_DIR / "broken" / "try-1.log").read_text()
    assert "] Traceback (most recent call last):" in text
    assert "] ValueError: the reason it broke" in text
    assert _lines(tmp_path / "logs_failure" / RUN_DIR / "broken" / "try-1.log")[-1].endswith(
        "] try ended: failed (exception)"
    )


def test_a_run_echoes_to_the_current_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    with DAG("logs_default_echo") as dag:
        EmptyOperator(task_id="nothing")

    local_run.test_dag(dag, kill_grace=1)

    assert "nothing | success after try 1" in capsys.readouterr().err


def test_echo_none_keeps_a_run_silent(capsys: pytest.CaptureFixture[str]) -> None:
    with DAG("logs_silent") as dag:

        @task
        def talk() -> None:
            print("hello from the task")

        talk()

    local_run.test_dag(dag, echo=None, kill_grace=1)

    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")
