"""Remote workers: a scheduler queues tries for a broker, a worker process with no database
settings runs them with ``executors.remote.TryRunner`` against a real API server."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from support.orchestrator import Orchestrator
from support.processes import wait_for
from support.remote import EXECUTION, ApiServer, BrokerExecutor, Message, RemoteWorker, bearer

from gnomon.scheduler import outcomes
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import RunState, TaskState
from gnomon.store import tries

PIPELINE = """
from datetime import datetime
from gnomon import DAG, task

with DAG("remote_pipeline", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def produce():
        return {"n": 21}

    @task
    def consume(value):
        print(f"pulled {value}")
        return value["n"] * 2

    @task
    def broken():
        raise ValueError("boom on a remote worker")

    consume(produce())
    broken()
"""

#: A task that runs until the file named by the run's conf ``go`` exists.
WAITING = """
import os
import time
from datetime import datetime
from gnomon import DAG, task

with DAG("waiting", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def wait(**context):
        conf = context["dag_run"].conf
        open(conf["started"], "w").close()
        while not os.path.exists(conf["go"]):
            time.sleep(0.05)
        return "went"

    wait()
"""


@pytest.fixture
def orchestrator(make_orchestrator: Any, broker: BrokerExecutor) -> Orchestrator:
    found: Orchestrator = make_orchestrator(executor=broker)
    return found


def _try(orchestrator: Orchestrator, try_id: int) -> tries.Try:
    with orchestrator.sessions() as session:
        found = tries.get(session, try_id)
    assert found is not None
    return found


def _start_elsewhere(server: ApiServer, message: Message) -> None:
    """Another worker ("other") claims ``message``'s try, as a second delivery would."""
    claim = {"hostname": "elsewhere", "pid": 1, "worker": "other"}
    started = httpx.post(
        f"{server.url}{EXECUTION}/tries/{message.try_id}/start",
        headers=bearer(message.token),
        json=claim,
    )
    assert started.status_code == 200, started.text


def _log(worker: RemoteWorker, message: Message) -> str:
    return (worker.logs_folder / message.workload.log_relpath).read_text()


@pytest.mark.parametrize("tries_per_process", [1, 2])
def test_a_remote_worker_runs_scheduled_tries_with_no_database_settings(
    orchestrator: Orchestrator,
    broker: BrokerExecutor,
    server: ApiServer,
    workers: list[RemoteWorker],
    tmp_path: Path,
    tries_per_process: int,
) -> None:
    orchestrator.write_dag("remote_pipeline", PIPELINE)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("remote_pipeline")
    worker = RemoteWorker(server.url, tmp_path, tries_per_process=tries_per_process)
    workers.append(worker)
    ran: dict[str, tuple[Message, dict[str, Any]]] = {}
    for _ in range(3):  # produce and broken, then consume once produce ended
        message = broker.next()
        ran[message.workload.request.task_id] = (message, worker.run(message))
    assert {task: result["status"] for task, (_, result) in ran.items()} == {
        "produce": "ended",
        "consume": "ended",
        "broken": "ended",
    }
    assert orchestrator.wait_run("remote_pipeline", run_id) is RunState.FAILED
    # consume pulled produce's XCom through the API, from inside its forked process.
    assert orchestrator.xcom("remote_pipeline", run_id, "consume") == 42
    consume, _ = ran["consume"]
    assert "pulled {'n': 21}" in _log(worker, consume)
    broken = orchestrator.task("remote_pipeline", run_id, "broken")
    assert broken["state"] == "failed"
    assert broken["tries"][0]["error"] == "ValueError: boom on a remote worker"
    assert broken["tries"][0]["worker"] == "remote-1"
    assert "boom on a remote worker" in _log(worker, ran["broken"][0])
    # The try processes: a new one each, or the first two tries in one kept process.
    logs = [_log(worker, m) for m, _ in sorted(ran.values(), key=lambda m: m[0].try_id)]
    found = [re.search(r"try process (started|reused): pid (\d+)", log) for log in logs]
    kinds = [(match.group(1), int(match.group(2))) for match in found if match]
    assert len(kinds) == 3
    if tries_per_process == 1:
        assert [kind for kind, _ in kinds] == ["started"] * 3
        assert len({pid for _, pid in kinds}) == 3
    else:
        assert [kind for kind, _ in kinds] == ["started", "reused", "started"]
        assert kinds[0][1] == kinds[1][1] != kinds[2][1]
    assert worker.close() == {"database_modules": []}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_worker_that_loses_the_start_race_does_not_run_the_task(
    orchestrator: Orchestrator,
    broker: BrokerExecutor,
    server: ApiServer,
    workers: list[RemoteWorker],
    tmp_path: Path,
) -> None:
    orchestrator.write_dag("waiting", WAITING)
    orchestrator.sync()
    orchestrator.start()
    started = tmp_path / "started"
    orchestrator.trigger("waiting", {"started": str(started), "go": str(tmp_path / "go")})
    message = broker.next()
    # Another worker got the same message first (a redelivery) and claimed the try.
    _start_elsewhere(server, message)
    worker = RemoteWorker(server.url, tmp_path)
    workers.append(worker)
    result = worker.run(message)
    assert result["status"] == "refused"
    assert "HTTP 409" in result["detail"]
    assert not started.exists()
    assert not (worker.logs_folder / message.workload.log_relpath).exists()
    assert _try(orchestrator, message.try_id).worker == "other"


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("tries_per_process", [1, 10])
def test_a_try_given_up_elsewhere_is_killed_at_its_next_heartbeat(
    orchestrator: Orchestrator,
    broker: BrokerExecutor,
    server: ApiServer,
    workers: list[RemoteWorker],
    tmp_path: Path,
    tries_per_process: int,
) -> None:
    orchestrator.write_dag("waiting", WAITING)
    orchestrator.sync()
    orchestrator.start()
    started = tmp_path / "started"
    orchestrator.trigger("waiting", {"started": str(started), "go": str(tmp_path / "never")})
    message = broker.next()
    worker = RemoteWorker(server.url, tmp_path, tries_per_process=tries_per_process)
    workers.append(worker)
    worker.send(message)
    wait_for(started.exists, 30)
    reason = "zombie: no heartbeat for more than 2s"
    with orchestrator.sessions.begin() as session:
        attempt = tries.get(session, message.try_id)
        assert attempt is not None
        assert outcomes.fail_silent(session, VersionCache(), attempt, reason, datetime.now(UTC))
    result = worker.answer()
    assert result["status"] == "ended"
    assert "had ended already" in result["detail"]
    assert "refused its heartbeat" in result["outcome"]["error"]
    assert _try(orchestrator, message.try_id).exit_reason == reason


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("tries_per_process", [1, 10])
def test_a_stopping_worker_kills_its_try_which_is_retried_without_using_a_retry(
    orchestrator: Orchestrator,
    broker: BrokerExecutor,
    server: ApiServer,
    workers: list[RemoteWorker],
    tmp_path: Path,
    tries_per_process: int,
) -> None:
    orchestrator.write_dag("waiting", WAITING)
    orchestrator.sync()
    orchestrator.start()
    started = tmp_path / "started"
    run_id = orchestrator.trigger(
        "waiting", {"started": str(started), "go": str(tmp_path / "never")}
    )
    message = broker.next()
    worker = RemoteWorker(server.url, tmp_path, tries_per_process=tries_per_process)
    workers.append(worker)
    worker.send(message)
    wait_for(started.exists, 30)
    worker.stop()
    result = worker.answer()
    assert (result["status"], result["outcome"]["exit_reason"]) == ("ended", "shutdown")
    again = broker.next()  # the scheduler queued the task again at once
    assert again.workload.request.try_number == 2
    assert again.workload.request.max_tries == 2  # one more try: the shutdown used none
    assert orchestrator.task("waiting", run_id, "wait")["tries"][0]["exit_reason"] == "shutdown"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_end_report_outlives_an_api_restart(
    orchestrator: Orchestrator,
    broker: BrokerExecutor,
    server: ApiServer,
    workers: list[RemoteWorker],
    tmp_path: Path,
) -> None:
    orchestrator.write_dag("waiting", WAITING)
    orchestrator.sync()
    orchestrator.start()
    started, go = tmp_path / "started", tmp_path / "go"
    run_id = orchestrator.trigger("waiting", {"started": str(started), "go": str(go)})
    message = broker.next()
    worker = RemoteWorker(server.url, tmp_path)
    workers.append(worker)
    worker.send(message)
    wait_for(started.exists, 30)
    server.stop()
    go.touch()  # the try ends while the API is down: its report waits
    server.start()
    result = worker.answer()
    assert (result["status"], result["detail"]) == ("ended", "success")
    assert orchestrator.wait_run("waiting", run_id) is RunState.SUCCESS
    assert _try(orchestrator, message.try_id).state is TaskState.SUCCESS


FOUR = """
from datetime import datetime
from gnomon import DAG, task

with DAG("four", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    for name in ("a", "b", "c", "d"):
        @task(task_id=name)
        def work(name=name):
            print(f"working on {name}")
            return name

        work()
"""


@pytest.mark.parametrize("backend", ["sqlite"])
def test_tries_run_in_turn_claim_each_next_try_with_the_last_ones_end(
    orchestrator: Orchestrator,
    broker: BrokerExecutor,
    server: ApiServer,
    workers: list[RemoteWorker],
    tmp_path: Path,
) -> None:
    orchestrator.write_dag("four", FOUR)
    orchestrator.sync()
    orchestrator.start()
    orchestrator.trigger("four")
    messages = [broker.next() for _ in range(4)]
    # One of them was started elsewhere meanwhile: refused in its turn, the rest run.
    taken = messages[2]
    _start_elsewhere(server, taken)
    worker = RemoteWorker(server.url, tmp_path)
    workers.append(worker)

    answer = worker.run_in_turn(messages)

    assert [r["status"] for r in answer["results"]] == ["ended", "ended", "refused", "ended"]
    # Only the first start was a request of its own: each end claimed the next try (the
    # refused one's too, after which the last needed a start of its own).
    assert answer["starts"] == 2
    for message in messages[:2] + messages[3:]:
        found = _try(orchestrator, message.try_id)
        assert (found.state, found.worker) == (TaskState.SUCCESS, "remote-1")
        name = message.workload.request.task_id
        assert f"working on {name}" in _log(worker, message)
    assert _try(orchestrator, taken.try_id).worker == "other"


BROKEN_ON_WORKERS = """
import os
from datetime import datetime
from gnomon import DAG, task

if os.environ.get("REMOTE_WORKER_TEST"):
    raise RuntimeError("this DAG cannot be imported on the worker")

with DAG("fragile", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def hello():
        return "hello"

    hello()
"""


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_dag_that_fails_to_import_on_the_worker_fails_the_try_with_the_error(
    orchestrator: Orchestrator,
    broker: BrokerExecutor,
    server: ApiServer,
    workers: list[RemoteWorker],
    tmp_path: Path,
) -> None:
    orchestrator.write_dag("fragile", BROKEN_ON_WORKERS)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("fragile")
    worker = RemoteWorker(server.url, tmp_path, REMOTE_WORKER_TEST="1")
    workers.append(worker)
    message = broker.next()
    result = worker.run(message)
    assert result["status"] == "ended"
    error = "RuntimeError: this DAG cannot be imported on the worker"
    assert error in result["outcome"]["error"]
    assert error in _log(worker, message)
    assert orchestrator.wait_run("fragile", run_id) is RunState.FAILED
    task = orchestrator.task("fragile", run_id, "hello")
    assert "failed to import" in task["tries"][0]["error"]
