"""The log endpoints on logs that are not local files: on S3, and live on a worker's log
server; what the API shows when a worker cannot be reached; signatures never shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MakeOrchestrator
from sqlalchemy import select, update
from support.api import ApiHarness
from support.orchestrator import Orchestrator
from support.processes import wait_for
from support.s3 import S3Server

from gnomon.runtime import logstore
from gnomon.runtime.log_server import LogServer
from gnomon.semantics.states import RunState
from gnomon.store import models

PRINTS = """
from datetime import datetime
from gnomon import DAG, task

with DAG("prints", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def talk():
        print("the answer is 42")

    talk()
"""

GATED = """
import time
from datetime import datetime
from pathlib import Path
from gnomon import DAG, task

with DAG("gated", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def wait():
        print("waiting for the gate")
        while not (Path(__file__).parent / "open").exists():
            time.sleep(0.05)

    wait()
"""

TRY = "/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/tries/1"
RELPATH = "gated/run/wait/try-1.log"

# One backend: these tests are about where logs are, not about the store's SQL.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def s3_api(orchestrator: Orchestrator, s3_server: S3Server) -> Iterator[ApiHarness]:
    harness = ApiHarness(
        orchestrator.engine, orchestrator.home, log_storage_options=s3_server.storage_options
    )
    with harness.client:
        yield harness


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[LogServer]:
    """A worker's log server over its own logs folder, with a try's log in it."""
    folder = tmp_path / "worker-logs"
    (folder / RELPATH).parent.mkdir(parents=True)
    (folder / RELPATH).write_text("started\n")
    server = LogServer(folder, "127.0.0.1", 0, advertised_host="127.0.0.1")
    server.start()
    yield server
    server.stop()


def _finished(orchestrator: Orchestrator, dag_id: str, source: str) -> str:
    orchestrator.write_dag(dag_id, source)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger(dag_id)
    assert orchestrator.wait_run(dag_id, run_id) is RunState.SUCCESS
    return run_id


def _running(orchestrator: Orchestrator, api: ApiHarness) -> str:
    """A run of ``gated`` whose try is running (until the file ``open`` appears)."""
    orchestrator.write_dag("gated", GATED)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("gated")
    url = TRY.format(dag_id="gated", run_id=run_id, task_id="wait")
    wait_for(lambda: api.get(url).json().get("state") == "running", timeout=60)
    return url


def _record_location(orchestrator: Orchestrator, task_id: str, location: str) -> None:
    """What a remote worker reports: the try's log is at ``location``."""
    ti = models.TaskInstance
    with orchestrator.sessions.begin() as session:
        session.execute(
            update(models.TaskTry)
            .where(
                models.TaskTry.try_number == 1,
                models.TaskTry.task_instance_id.in_(select(ti.id).where(ti.task_id == task_id)),
            )
            .values(log_location=location)
        )


def test_a_log_kept_on_s3_is_read_whole_and_from_an_offset(
    orchestrator: Orchestrator, s3_api: ApiHarness, s3_server: S3Server
) -> None:
    run_id = _finished(orchestrator, "prints", PRINTS)
    url = TRY.format(dag_id="prints", run_id=run_id, task_id="talk")
    local = Path(s3_api.get(url).json()["log_location"])
    relpath = str(local.relative_to(orchestrator.home / "logs"))
    bucket = s3_server.create_bucket()
    uploaded = logstore.LogStore(
        f"s3://{bucket}/logs", orchestrator.home / "logs", s3_server.storage_options
    ).upload(relpath)
    local.unlink()  # only the copy on S3 is left
    _record_location(orchestrator, "talk", uploaded)

    whole = s3_api.get(f"{url}/logs").json()
    assert "the answer is 42" in whole["content"]
    assert whole["complete"] is True
    offset = whole["content"].index("the answer")
    rest = s3_api.get(f"{url}/logs", params={"offset": offset}).json()
    assert rest["content"] == whole["content"][offset:]
    assert rest["next_offset"] == whole["next_offset"]
    assert s3_api.get(url).json()["log_location"] == uploaded


def test_a_running_trys_log_is_read_live_from_its_workers_log_server(
    orchestrator: Orchestrator, api: ApiHarness, worker: LogServer
) -> None:
    url = _running(orchestrator, api)
    _record_location(orchestrator, "wait", worker.url_for(RELPATH))

    first = api.get(f"{url}/logs").json()
    assert (first["content"], first["complete"], first["notice"]) == ("started\n", False, None)
    with (worker.folder / RELPATH).open("a") as f:
        f.write("still going\n")
    second = api.get(f"{url}/logs", params={"offset": first["next_offset"]}).json()
    assert (second["content"], second["complete"]) == ("still going\n", False)
    assert second["next_offset"] == first["next_offset"] + len("still going\n")
    (orchestrator.dags_folder / "open").touch()


def test_the_logs_location_is_shown_without_its_signature(
    orchestrator: Orchestrator, api: ApiHarness, worker: LogServer
) -> None:
    url = _running(orchestrator, api)
    signed = worker.url_for(RELPATH)
    _record_location(orchestrator, "wait", signed)
    shown = api.get(url).json()["log_location"]
    instance = api.get(url.removesuffix("/tries/1")).json()["tries"][0]["log_location"]
    run_id = url.split("/")[6]
    report = orchestrator.task("gated", run_id, "wait")["tries"][0]["log"]
    assert shown == instance == report == signed.split("?")[0]
    assert "sig" not in json.dumps([shown, instance, report])
    (orchestrator.dags_folder / "open").touch()


def test_a_refused_signature_is_a_notice_not_an_error(
    orchestrator: Orchestrator, api: ApiHarness, worker: LogServer
) -> None:
    url = _running(orchestrator, api)
    _record_location(orchestrator, "wait", worker.url_for(RELPATH) + "0")
    response = api.get(f"{url}/logs")
    assert response.status_code == 200
    body = response.json()
    assert (body["content"], body["next_offset"], body["complete"]) == ("", 0, False)
    assert "answered 403" in body["notice"]
    (orchestrator.dags_folder / "open").touch()


def test_an_unreachable_worker_is_a_notice_and_the_stream_goes_on(
    orchestrator: Orchestrator, api: ApiHarness, worker: LogServer
) -> None:
    url = _running(orchestrator, api)
    signed = worker.url_for(RELPATH)
    worker.stop()
    _record_location(orchestrator, "wait", signed)

    body = api.get(f"{url}/logs").json()
    assert (body["content"], body["complete"]) == ("", False)
    assert body["notice"].startswith(f"the log server at {signed.split('?')[0]} cannot be reached")
    assert "sig=" not in body["notice"]

    headers = api.headers("admin")
    with api.client.stream("GET", f"{url}/logs/stream", headers=headers) as response:
        lines = response.iter_lines()
        assert next(lines) == "event: notice"
        assert "cannot be reached" in json.loads(next(lines)[len("data: ") :])["notice"]
        (orchestrator.dags_folder / "open").touch()  # the try ends: so does the stream
        rest = list(lines)
    assert "event: end" in rest


def test_the_local_executor_uploads_a_finished_log_to_the_remote_store(
    make_orchestrator: MakeOrchestrator, s3_server: S3Server
) -> None:
    bucket = s3_server.create_bucket()
    orchestrator = make_orchestrator(
        log_url=f"s3://{bucket}/gnomon-logs", log_storage_options=s3_server.storage_options
    )
    harness = ApiHarness(
        orchestrator.engine, orchestrator.home, log_storage_options=s3_server.storage_options
    )
    with harness.client:
        run_id = _finished(orchestrator, "prints", PRINTS)
        url = TRY.format(dag_id="prints", run_id=run_id, task_id="talk")
        location = harness.get(url).json()["log_location"]
        assert location.startswith(f"s3://{bucket}/gnomon-logs/prints/")
        key = location.removeprefix(f"s3://{bucket}/")
        assert "the answer is 42" in s3_server.get(bucket, key).decode()
        # Read from S3: the local copy is gone.
        (orchestrator.home / "logs" / key.removeprefix("gnomon-logs/")).unlink()
        body = harness.get(f"{url}/logs").json()
    assert "the answer is 42" in body["content"]
    assert body["complete"] is True
