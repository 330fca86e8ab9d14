"""Failures: retries with delay, a killed try, a zombie, a timeout, clear and rerun."""

from __future__ import annotations

import os
import signal
from datetime import datetime
from pathlib import Path

from support.orchestrator import Orchestrator
from support.processes import is_gone, wait_for

from gnomon.semantics.states import RunState

FLAKY = """
from datetime import datetime, timedelta
from pathlib import Path
from gnomon import DAG, task

COUNTER = Path({counter!r})

with DAG("flaky", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task(retries=2, retry_delay=timedelta(seconds=1))
    def sometimes():
        with COUNTER.open("a") as f:
            f.write("x")
        if len(COUNTER.read_text()) == 1:
            raise RuntimeError("first try fails")
        return "ok"

    sometimes()
"""


def _at(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text)


def test_a_failed_try_is_retried_after_its_delay(
    orchestrator: Orchestrator, tmp_path: Path
) -> None:
    orchestrator.write_dag("flaky", FLAKY.format(counter=str(tmp_path / "counter")))
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("flaky")
    assert orchestrator.wait_run("flaky", run_id) is RunState.SUCCESS
    task = orchestrator.task("flaky", run_id, "sometimes")
    first, second = task["tries"]
    assert (first["state"], first["exit_reason"]) == ("failed", "exception")
    assert "first try fails" in first["error"]
    assert second["state"] == "success"
    assert (_at(second["start_date"]) - _at(first["end_date"])).total_seconds() >= 1.0


STUCK = """
import os, time
from datetime import datetime, timedelta
from pathlib import Path
from gnomon import DAG, task

PIDS = Path({pids!r})

with DAG("stuck", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task(retries=1, retry_delay=timedelta(seconds=0))
    def hang(ti=None):
        if ti.try_number == 1:
            PIDS.write_text(str(os.getpid()))
            time.sleep(120)
        return "second try"

    hang()
"""


def _try_states(orchestrator: Orchestrator, run_id: str, dag_id: str = "unstoppable") -> list[str]:
    task = orchestrator.report(dag_id, run_id)["tasks"][0]
    return [attempt["state"] for attempt in task["tries"]]


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _stuck(orchestrator: Orchestrator, tmp_path: Path) -> tuple[str, int]:
    pids = tmp_path / "pids"
    orchestrator.write_dag("stuck", STUCK.format(pids=str(pids)))
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("stuck")
    wait_for(lambda: pids.exists() and pids.read_text() != "", timeout=30)
    wait_for(lambda: _try_states(orchestrator, run_id, "stuck") == ["running"], timeout=30)
    return run_id, int(pids.read_text())


def test_a_killed_try_fails_with_the_signal_and_is_retried(
    orchestrator: Orchestrator, tmp_path: Path
) -> None:
    run_id, pid = _stuck(orchestrator, tmp_path)
    os.kill(pid, signal.SIGKILL)
    assert orchestrator.wait_run("stuck", run_id) is RunState.SUCCESS
    first, second = orchestrator.task("stuck", run_id, "hang")["tries"]
    assert first["state"] == "failed"
    assert first["exit_reason"] == "try process killed by signal SIGKILL"
    assert second["state"] == "success"


def test_a_try_whose_worker_died_is_failed_as_a_zombie_and_retried(
    make_orchestrator: object, tmp_path: Path
) -> None:
    orchestrator: Orchestrator = make_orchestrator(heartbeat_timeout=2.0)  # type: ignore[operator]
    run_id, pid = _stuck(orchestrator, tmp_path)
    os.kill(_parent_of(pid), signal.SIGKILL)  # the warm worker supervising the try
    assert orchestrator.wait_run("stuck", run_id) is RunState.SUCCESS
    first, second = orchestrator.task("stuck", run_id, "hang")["tries"]
    assert first["state"] == "failed"
    assert first["exit_reason"].startswith("zombie: no heartbeat for more than 2s")
    assert second["state"] == "success"
    wait_for(lambda: is_gone(pid), timeout=10)  # the try died too


SLOW = """
import time
from datetime import datetime, timedelta
from gnomon import DAG, task

with DAG("slow", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task(execution_timeout=timedelta(seconds=1))
    def too_long():
        time.sleep(60)

    too_long()
"""


def test_a_try_over_its_execution_timeout_is_stopped_and_fails(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.write_dag("slow", SLOW)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("slow")
    assert orchestrator.wait_run("slow", run_id) is RunState.FAILED
    (only,) = orchestrator.task("slow", run_id, "too_long")["tries"]
    assert (only["state"], only["exit_reason"]) == ("failed", "timeout")
    # Stopped at the timeout, not before: the deadline runs on the monotonic clock from the
    # fork, the recorded dates on the wall clock a moment later, hence the margin.
    assert 0.95 <= only["duration"] < 10


RERUN = """
from datetime import datetime
from pathlib import Path
from gnomon import DAG, task

ROOT = Path({root!r})

with DAG("rerun", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def upstream():
        with (ROOT / "upstream.log").open("a") as f:
            f.write("ran\\n")
        return 1

    @task
    def needs_marker(value):
        if not (ROOT / "marker").exists():
            raise RuntimeError("no marker yet")
        return value + 1

    needs_marker(upstream())
"""


def test_clearing_a_failed_task_reruns_it_and_not_what_succeeded(
    orchestrator: Orchestrator, tmp_path: Path
) -> None:
    orchestrator.write_dag("rerun", RERUN.format(root=str(tmp_path)))
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("rerun")
    assert orchestrator.wait_run("rerun", run_id) is RunState.FAILED
    (tmp_path / "marker").touch()
    cleared = orchestrator.clear("rerun", run_id, only_failed=True)
    assert [k.task_id for k in cleared] == ["needs_marker"]
    assert orchestrator.wait_run("rerun", run_id) is RunState.SUCCESS
    assert (tmp_path / "upstream.log").read_text() == "ran\n"
    task = orchestrator.task("rerun", run_id, "needs_marker")
    assert [t["state"] for t in task["tries"]] == ["failed", "success"]
    assert orchestrator.xcom("rerun", run_id, "needs_marker") == 2


UNSTOPPABLE = """
import os, signal, time
from datetime import datetime, timedelta
from pathlib import Path
from gnomon import DAG, task

PIDS = Path({pids!r})

with DAG("unstoppable", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task(execution_timeout=timedelta(seconds=1))
    def ignore_alarm():
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        PIDS.write_text(str(os.getpid()))
        time.sleep(120)

    ignore_alarm()
"""


def test_the_scheduler_fails_a_try_its_supervisor_could_not_stop(
    make_orchestrator: object, tmp_path: Path
) -> None:
    orchestrator: Orchestrator = make_orchestrator(heartbeat_timeout=2.0)  # type: ignore[operator]
    pids = tmp_path / "pids"
    orchestrator.write_dag("unstoppable", UNSTOPPABLE.format(pids=str(pids)))
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("unstoppable")
    wait_for(lambda: pids.exists() and pids.read_text() != "", timeout=30)
    # Its start recorded (the worker reported it before being wedged).
    wait_for(lambda: _try_states(orchestrator, run_id) == ["running"], timeout=30)
    pid = int(pids.read_text())
    worker = _parent_of(pid)
    os.kill(worker, signal.SIGSTOP)  # a wedged supervisor: it cannot enforce the timeout
    try:
        assert orchestrator.wait_run("unstoppable", run_id) is RunState.FAILED
    finally:
        os.kill(worker, signal.SIGCONT)
    (only,) = orchestrator.task("unstoppable", run_id, "ignore_alarm")["tries"]
    assert only["state"] == "failed"
    assert only["exit_reason"].startswith("timeout: still running 1s (execution_timeout)")
    wait_for(lambda: is_gone(pid), timeout=15)  # and it was killed
