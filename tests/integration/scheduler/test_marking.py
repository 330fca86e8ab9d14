"""Marking a running task instance by hand stops its try on the local executor, as a remote
worker's refused heartbeat does: the mark stands and no process runs on behind it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from conftest import MakeOrchestrator
from support.processes import is_gone, wait_for

from gnomon.scheduler import marking
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import RunState, TaskState
from gnomon.store import runs

#: A task that writes its pid to the run's conf ``started`` and runs until ``go`` exists.
WAITING = """
import os
import time
from datetime import datetime
from gnomon import DAG, task

with DAG("waiting", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def wait(**context):
        conf = context["dag_run"].conf
        with open(conf["started"], "w") as f:
            f.write(str(os.getpid()))
        while not os.path.exists(conf["go"]):
            time.sleep(0.05)
        return "went"

    wait()
"""


def test_marking_a_running_instance_failed_kills_its_try(
    make_orchestrator: MakeOrchestrator, tmp_path: Path
) -> None:
    orchestrator = make_orchestrator(heartbeat_timeout=4.0)  # a heartbeat every second
    orchestrator.write_dag("waiting", WAITING)
    orchestrator.sync()
    orchestrator.start()
    started, go = tmp_path / "started", tmp_path / "go"
    run_id = orchestrator.trigger("waiting", {"started": str(started), "go": str(go)})
    wait_for(lambda: started.exists() and started.read_text() != "", timeout=30)
    pid = int(started.read_text())

    with orchestrator.sessions.begin() as session:
        run = runs.get(session, "waiting", run_id)
        assert run is not None
        marked = marking.mark(
            session, VersionCache(), run, TaskState.FAILED, task_ids=["wait"], now=datetime.now(UTC)
        )
    assert [ti.task_id for ti in marked] == ["wait"]

    wait_for(lambda: is_gone(pid), timeout=15)
    wait_for(lambda: orchestrator.task("waiting", run_id, "wait")["tries"][0]["state"] != "running")
    task = orchestrator.task("waiting", run_id, "wait")
    assert task["state"] == "failed"  # the mark stands
    assert task["tries"][0]["state"] == "failed"
    assert orchestrator.wait_run("waiting", run_id) is RunState.FAILED
    assert orchestrator.xcom("waiting", run_id, "wait") is None  # it never got to return
