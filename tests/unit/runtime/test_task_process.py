"""``runtime.task_process.TaskProcess``: tries one after another in one kept process."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from support.processes import is_gone, wait_for

from gnomon.runtime.protocol import TryOutcome
from gnomon.runtime.supervisor import FinishedTry
from gnomon.runtime.task_process import TaskProcess
from gnomon.semantics.states import TaskState


def run_job(job: Mapping[str, Any]) -> TryOutcome:
    """What the kept process does with each job: print, then act as the job says."""
    for line in range(job.get("lines", 1)):
        print(f"{job['name']} line {line}")
    print(f"{job['name']} to stderr", file=sys.stderr)
    action = job.get("action")
    if action == "raise":
        raise RuntimeError(f"{job['name']} failed")
    if action == "exit":
        os._exit(3)
    if action == "hang":
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            time.sleep(0.05)
    if action == "chdir":
        os.chdir("/")
    return TryOutcome(TaskState.SUCCESS, "success", xcoms={"cwd": os.getcwd()})


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    made: list[TaskProcess] = []

    def build(tries_per_process: int = 10) -> TaskProcess:
        found = TaskProcess(run_job, tries_per_process=tries_per_process, kill_grace=0.2)
        made.append(found)
        return found

    yield build
    for process in made:
        process.shutdown()


def run(process: TaskProcess, log: Path, timeout: float | None = None, **job: Any) -> FinishedTry:
    process.start(job["name"], job, label=job["name"], timeout=timeout, log_path=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for finished in process.poll(0.5):
            return finished
    raise AssertionError(f"try {job['name']} did not end")


def test_tries_run_in_one_process_each_with_its_own_log(make: Any, tmp_path: Path) -> None:
    process = make()
    first = run(process, tmp_path / "a.log", name="a", lines=2000)
    second = run(process, tmp_path / "b.log", name="b")
    assert first.outcome.state is TaskState.SUCCESS
    assert second.outcome.state is TaskState.SUCCESS
    assert first.pid == second.pid != os.getpid()
    a_log = (tmp_path / "a.log").read_text()
    b_log = (tmp_path / "b.log").read_text()
    # Every line the try wrote is in its log before it ends, and only there.
    assert "a line 1999" in a_log and "a to stderr" in a_log
    assert a_log.index("a line 1999") < a_log.index("try ended: success")
    assert "gnomon: end of try output" not in a_log
    assert "b line 0" in b_log and "a line" not in b_log
    assert f"try process started: pid {first.pid}" in a_log
    assert f"try process reused: pid {first.pid} (try 2 of at most 10 in it)" in b_log


def test_the_process_is_replaced_after_tries_per_process(make: Any, tmp_path: Path) -> None:
    process = make(tries_per_process=2)
    pids = [run(process, tmp_path / f"{n}.log", name=f"t{n}").pid for n in range(5)]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


def test_an_exception_fails_the_try_and_keeps_the_process(make: Any, tmp_path: Path) -> None:
    process = make()
    failed = run(process, tmp_path / "a.log", name="a", action="raise")
    assert failed.outcome.state is TaskState.FAILED
    assert "RuntimeError: a failed" in (failed.outcome.error or "")
    assert "Traceback" in (tmp_path / "a.log").read_text()
    assert run(process, tmp_path / "b.log", name="b").pid == failed.pid


def test_a_try_that_ends_its_process_crashes_and_the_next_gets_a_new_one(
    make: Any, tmp_path: Path
) -> None:
    process = make()
    crashed = run(process, tmp_path / "a.log", name="a", action="exit")
    assert crashed.outcome.state is TaskState.FAILED
    assert "exited with code 3 without a result" in (crashed.outcome.error or "")
    assert "a line 0" in (tmp_path / "a.log").read_text()
    after = run(process, tmp_path / "b.log", name="b")
    assert after.outcome.state is TaskState.SUCCESS and after.pid != crashed.pid


def test_a_try_past_its_timeout_is_killed_with_its_process(make: Any, tmp_path: Path) -> None:
    process = make()
    timed_out = run(process, tmp_path / "a.log", timeout=0.2, name="a", action="hang")
    assert timed_out.outcome.exit_reason == "timeout"
    with pytest.raises(ProcessLookupError):
        os.kill(timed_out.pid, 0)
    assert "killing it" in (tmp_path / "a.log").read_text()
    assert run(process, tmp_path / "b.log", name="b").pid != timed_out.pid


def test_kill_all_ends_the_running_try(make: Any, tmp_path: Path) -> None:
    process = make()
    process.start("a", {"name": "a", "action": "hang"}, label="a", log_path=tmp_path / "a.log")
    assert process.running == 1
    process.kill_all()
    finished = process.shutdown()
    assert [f.outcome.state for f in finished] == [TaskState.FAILED]
    assert "SIGKILL" in (finished[0].outcome.error or "")
    assert process.running == 0 and process.pid is None


def test_a_process_killed_between_tries_is_replaced(make: Any, tmp_path: Path) -> None:
    process = make()
    first = run(process, tmp_path / "a.log", name="a")
    os.kill(first.pid, signal.SIGKILL)
    wait_for(lambda: is_gone(first.pid))
    second = run(process, tmp_path / "b.log", name="b")
    assert second.outcome.state is TaskState.SUCCESS and second.pid != first.pid


def test_a_try_that_changes_directory_does_not_move_the_next(make: Any, tmp_path: Path) -> None:
    process = make()
    moved = run(process, tmp_path / "a.log", name="a", action="chdir")
    assert moved.outcome.xcoms["cwd"] == "/"
    assert run(process, tmp_path / "b.log", name="b").outcome.xcoms["cwd"] == os.getcwd()


def test_close_ends_the_kept_process(make: Any, tmp_path: Path) -> None:
    process = make()
    pid = run(process, tmp_path / "a.log", name="a").pid
    process.close()
    assert process.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
