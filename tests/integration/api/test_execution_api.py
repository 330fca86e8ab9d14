"""The execution API (``/execution/v1``): a worker claims a scheduler-queued try, heartbeats,
pulls XComs and reports its end with the try's own tokens, never a user's."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support.api import ApiHarness
from support.orchestrator import Orchestrator
from support.processes import wait_for
from support.remote import EXECUTION, BrokerExecutor, Message, bearer
from support.standalone import free_port

from gnomon.api.app import create_app
from gnomon.api.config import ApiConfig
from gnomon.events import wakeups
from gnomon.executors import tokens
from gnomon.scheduler import outcomes
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import RunState, TaskState
from gnomon.store import db, secrets, tries

PIPELINE = """
from datetime import datetime
from gnomon import DAG, task

with DAG("pipeline", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def first():
        return 21

    @task
    def second(x):
        return x * 2

    second(first())
"""


@pytest.fixture
def orchestrator(make_orchestrator: Any, broker: BrokerExecutor) -> Orchestrator:
    """A real scheduler whose executor only queues messages, as a Celery executor would."""
    found: Orchestrator = make_orchestrator(executor=broker)
    return found


def _queued(orchestrator: Orchestrator, broker: BrokerExecutor) -> Message:
    """The message of the first task of a triggered run of ``pipeline``."""
    orchestrator.write_dag("pipeline", PIPELINE)
    orchestrator.sync()
    orchestrator.start()
    orchestrator.trigger("pipeline")
    return broker.next()


def _claim(pid: int = 4242, **changes: Any) -> dict[str, Any]:
    return {"hostname": "worker-host", "pid": pid, "worker": "celery@worker-host", **changes}


def _start(api: ApiHarness, message: Message, **changes: Any) -> httpx.Response:
    return api.client.post(
        f"{EXECUTION}/tries/{message.try_id}/start",
        headers=bearer(message.token),
        json=_claim(**changes),
    )


def _end(
    api: ApiHarness, try_id: int, token: str, state: str = "success", **outcome: Any
) -> httpx.Response:
    now = datetime.now(UTC)
    body = {
        "outcome": {"state": state, "exit_reason": state, **outcome},
        "started_at": (now - timedelta(seconds=1)).isoformat(),
        "ended_at": now.isoformat(),
        "pid": 4243,
    }
    return api.client.post(f"{EXECUTION}/tries/{try_id}/end", headers=bearer(token), json=body)


def _try(orchestrator: Orchestrator, try_id: int) -> tries.Try:
    with orchestrator.sessions() as session:
        found = tries.get(session, try_id)
    assert found is not None
    return found


# -- start ----------------------------------------------------------------------------------
def test_a_start_claims_the_queued_try_and_says_what_to_run(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    answer = _start(api, message, log_location="http://worker-host:8793/log")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token"].startswith("gnx_") and body["token"] != message.token
    assert body["request"]["task_id"] == "first"
    assert body["request"]["run_id"] == message.workload.request.run_id
    assert (body["dag_id"], body["fileloc"], body["bundle"]) == ("pipeline", "pipeline.py", None)
    assert body["version_hash"] == message.workload.version_hash
    assert body["heartbeat_interval"] == 5.0  # a quarter of 300 s, capped
    attempt = _try(orchestrator, message.try_id)
    assert (attempt.state, attempt.worker, attempt.pid) == (
        TaskState.RUNNING,
        "celery@worker-host",
        4242,
    )
    assert attempt.log_location == "http://worker-host:8793/log"
    task = orchestrator.task("pipeline", message.workload.request.run_id, "first")
    assert task["state"] == "running"


def test_two_concurrent_starts_of_one_try_let_exactly_one_win(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def start(pid: int) -> None:
        barrier.wait()
        statuses.append(_start(api, message, pid=pid).status_code)

    threads = [threading.Thread(target=start, args=(pid,)) for pid in (1001, 1002)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]


def test_a_start_repeated_after_its_answer_was_lost_is_answered_again(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    claimed_at = datetime.now(UTC).isoformat()
    assert _start(api, message, started_at=claimed_at).status_code == 200
    assert _start(api, message, started_at=claimed_at).status_code == 200
    # A second delivery of the message is another claim: refused.
    other = _start(api, message, started_at=datetime.now(UTC).isoformat())
    assert other.status_code == 409
    assert "do not run it" in other.json()["detail"]


def test_a_start_of_a_try_that_does_not_exist_is_404(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    token = tokens.issue(broker.key, 987654, "start", 60)
    answer = api.client.post(
        f"{EXECUTION}/tries/987654/start", headers=bearer(token), json=_claim()
    )
    assert answer.status_code == 404
    assert "does not exist" in answer.json()["detail"]


def test_a_start_without_a_field_is_422_naming_it(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    answer = api.client.post(
        f"{EXECUTION}/tries/{message.try_id}/start",
        headers=bearer(message.token),
        json={"pid": 1, "worker": "w"},
    )
    assert answer.status_code == 422
    assert ["body", "hostname"] in [error["loc"] for error in answer.json()["detail"]]
    assert _try(orchestrator, message.try_id).state is TaskState.QUEUED


# -- tokens ---------------------------------------------------------------------------------
def test_tokens_open_only_their_own_try_and_scope(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    start_url = f"{EXECUTION}/tries/{message.try_id}/start"
    other_try = tokens.issue(broker.key, message.try_id + 1, "start", 60)
    refused = api.client.post(start_url, headers=bearer(other_try), json=_claim())
    assert refused.status_code == 403
    assert f"for try {message.try_id + 1}" in refused.json()["detail"]
    # A start token cannot end the try, nor a run token start it.
    assert _end(api, message.try_id, message.token).status_code == 403
    run_token = tokens.issue(broker.key, message.try_id, "run", 60)
    assert api.client.post(start_url, headers=bearer(run_token), json=_claim()).status_code == 403
    assert _try(orchestrator, message.try_id).state is TaskState.QUEUED


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda key, try_id: None, id="missing"),
        pytest.param(
            lambda key, try_id: tokens.issue(key, try_id, "start", 60, now=time.time() - 120),
            id="expired",
        ),
        pytest.param(
            lambda key, try_id: tokens.issue(b"another deployment", try_id, "start", 60),
            id="forged",
        ),
        pytest.param(
            lambda key, try_id: tokens.issue(key, try_id, "start", 60).replace(
                f"gnx_{try_id}.", f"gnx_{try_id + 1}.", 1
            ),
            id="altered",
        ),
        pytest.param(lambda key, try_id: "gnm_not-an-execution-token", id="user-token"),
    ],
)
def test_a_missing_expired_or_forged_token_is_401(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness, token: Any
) -> None:
    message = _queued(orchestrator, broker)
    value = token(broker.key, message.try_id)
    answer = api.client.post(
        f"{EXECUTION}/tries/{message.try_id}/start",
        headers=bearer(value) if value else {},
        json=_claim(),
    )
    assert answer.status_code == 401, answer.text
    assert _try(orchestrator, message.try_id).state is TaskState.QUEUED


def test_a_user_login_does_not_open_the_execution_api(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    answer = api.client.post(
        f"{EXECUTION}/tries/{message.try_id}/start", headers=api.headers("admin"), json=_claim()
    )
    assert answer.status_code == 401


@pytest.mark.parametrize("backend", ["sqlite"])
def test_without_a_signing_key_the_execution_api_is_unavailable(
    engine: Engine, tmp_path: Path
) -> None:
    config = ApiConfig(
        engine=engine,
        home=tmp_path,
        logs_folder=tmp_path / "logs",
        cipher=secrets.Cipher.from_keys(secrets.load_or_create_key(tmp_path / "secret.key")),
    )
    with TestClient(create_app(config)) as client:
        answer = client.post(
            f"{EXECUTION}/tries/1/heartbeat", headers=bearer(tokens.issue(b"k", 1, "run", 60))
        )
    assert answer.status_code == 503
    assert "signing key" in answer.json()["detail"]


def test_an_unreachable_database_answers_503_so_workers_retry(tmp_path: Path) -> None:
    key = secrets.load_or_create_key(tmp_path / "secret.key")
    nothing_there = db.make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    config = ApiConfig(
        engine=nothing_there,
        home=tmp_path,
        logs_folder=tmp_path / "logs",
        cipher=secrets.Cipher.from_keys(key),
        execution_key=tokens.derive_key(key),
    )
    run_token = tokens.issue(tokens.derive_key(key), 5, "run", 60)
    with TestClient(create_app(config)) as client:
        answer = client.post(f"{EXECUTION}/tries/5/heartbeat", headers=bearer(run_token))
    nothing_there.dispose()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_execution_api_has_its_own_schema(tmp_path: Path, engine: Engine) -> None:
    key = secrets.load_or_create_key(tmp_path / "secret.key")
    config = ApiConfig(
        engine=engine,
        home=tmp_path,
        logs_folder=tmp_path / "logs",
        cipher=secrets.Cipher.from_keys(key),
    )
    with TestClient(create_app(config)) as client:
        paths = client.get(f"{EXECUTION}/openapi.json").json()["paths"]
        api_paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert sorted(paths) == [
        "/tries/{try_id}/end",
        "/tries/{try_id}/files/{sha256}",
        "/tries/{try_id}/heartbeat",
        "/tries/{try_id}/source",
        "/tries/{try_id}/start",
        "/tries/{try_id}/xcoms",
    ]
    assert not [p for p in api_paths if p.startswith("/tries")]


# -- running --------------------------------------------------------------------------------
def test_a_heartbeat_renews_the_token_until_the_try_is_failed_elsewhere(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    token = _start(api, message).json()["token"]
    url = f"{EXECUTION}/tries/{message.try_id}/heartbeat"
    beat = api.client.post(url, headers=bearer(token))
    assert beat.status_code == 200
    renewed = beat.json()["token"]
    assert tokens.verify(broker.key, renewed).scope == "run"
    with orchestrator.sessions.begin() as session:
        attempt = tries.get(session, message.try_id)
        assert attempt is not None
        reason = "zombie: no heartbeat for more than 30s"
        now = datetime.now(UTC)
        assert outcomes.fail_silent(session, VersionCache(), attempt, reason, now) is not None
    refused = api.client.post(url, headers=bearer(renewed))
    assert refused.status_code == 409
    assert "kill it" in refused.json()["detail"]
    # Its late end report changes nothing: the zombie's failure stands.
    assert _end(api, message.try_id, renewed).status_code == 409
    assert _try(orchestrator, message.try_id).exit_reason == reason


def test_a_heartbeat_is_refused_once_an_operator_marked_the_instance(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    token = _start(api, message).json()["token"]
    run_id = message.workload.request.run_id
    marked = api.post(
        f"/api/v1/dags/pipeline/runs/{run_id}/mark", json={"state": "failed", "task_ids": ["first"]}
    )
    assert marked.status_code == 200, marked.text
    url = f"{EXECUTION}/tries/{message.try_id}/heartbeat"
    assert api.client.post(url, headers=bearer(token)).status_code == 409
    # The worker kills the try and reports it: the try is recorded, the mark stands.
    ended = _end(api, message.try_id, token, "failed", error="killed")
    assert ended.status_code == 200
    assert _try(orchestrator, message.try_id).state is TaskState.FAILED
    assert orchestrator.task("pipeline", run_id, "first")["state"] == "failed"


def test_an_end_applies_the_outcome_and_the_run_advances(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    first = _queued(orchestrator, broker)
    token = _start(api, first).json()["token"]
    ended = _end(
        api, first.try_id, token, xcoms={"return_value": 21}, xcom_lengths={"return_value": None}
    )
    assert ended.json() == {"state": "success"}
    assert _end(api, first.try_id, token).status_code == 409  # a repeated report
    second = broker.next()  # the scheduler, woken by the end, queued the downstream task
    assert second.workload.request.task_id == "second"
    run_token = _start(api, second).json()["token"]
    pulled = api.client.get(
        f"{EXECUTION}/tries/{second.try_id}/xcoms",
        headers=bearer(run_token),
        params={"task_id": "first", "key": "return_value"},
    )
    assert pulled.json() == {"values": {"-1": 21}}
    assert _end(api, second.try_id, run_token, xcoms={"return_value": 42}).status_code == 200
    run_id = first.workload.request.run_id
    assert orchestrator.wait_run("pipeline", run_id) is RunState.SUCCESS
    assert orchestrator.xcom("pipeline", run_id, "second") == 42


def test_a_failed_end_is_retried_by_the_control_plane(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    token = _start(api, message).json()["token"]
    ended = _end(api, message.try_id, token, "failed", error="ValueError: boom")
    assert ended.json() == {"state": "failed"}
    run_id = message.workload.request.run_id
    assert orchestrator.wait_run("pipeline", run_id) is RunState.FAILED
    task = orchestrator.task("pipeline", run_id, "first")
    assert (task["state"], task["tries"][0]["error"]) == ("failed", "ValueError: boom")


@pytest.mark.parametrize("backend", ["postgres"])
def test_an_end_wakes_the_schedulers_of_every_machine_on_postgres(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness, engine: Engine
) -> None:
    message = _queued(orchestrator, broker)
    token = _start(api, message).json()["token"]
    heard: list[str] = []
    with db.dedicated_connection(engine, application_name="gnomon-test") as listening:
        listening.add_notify_handler(lambda n: heard.append(n.payload))
        listening.execute(f"LISTEN {wakeups.CHANNEL}")
        assert _end(api, message.try_id, token, "failed", error="boom").status_code == 200
        # A failed try's run may be due a retry: the payload says so.
        wait_for(lambda: bool(listening.execute("SELECT 1")) and _retry_heard(heard))


def _retry_heard(payloads: list[str]) -> bool:
    return any(p.startswith("retry:") for p in payloads)


def test_xcoms_need_a_run_token(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    answer = api.client.get(
        f"{EXECUTION}/tries/{message.try_id}/xcoms",
        headers=bearer(message.token),
        params={"task_id": "first", "key": "return_value"},
    )
    assert answer.status_code == 403


def test_worker_reports_are_not_audited(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    assert _start(api, message).status_code == 200
    api.post("/api/v1/dags/pipeline/runs", json={"run_id": "by-a-person"})
    paths = [entry["path"] for entry in api.get("/api/v1/audit").json()["items"]]
    assert "/api/v1/dags/pipeline/runs" in paths
    assert not [p for p in paths if p.startswith(EXECUTION)]


# -- code -----------------------------------------------------------------------------------
def test_the_source_of_the_runs_dag_version_is_served(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    message = _queued(orchestrator, broker)
    answer = api.client.get(
        f"{EXECUTION}/tries/{message.try_id}/source", headers=bearer(message.token)
    )
    assert answer.status_code == 200
    assert 'DAG("pipeline"' in answer.json()["source"]


def test_a_start_names_the_bundle_and_only_its_files_are_served(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    folder = orchestrator.dags_folder
    (folder / "team").mkdir()
    (folder / "team" / "pipeline.py").write_text(PIPELINE)
    (folder / "helper.py").write_text("X = 1\n")
    orchestrator.process()
    orchestrator.start()
    orchestrator.trigger("pipeline")
    message = broker.next()
    (folder / "helper.py").write_text("X = 2\n")  # stored with the next bundle only
    orchestrator.process()

    started = _start(api, message).json()

    assert started["fileloc"] == "team/pipeline.py"
    files = started["bundle"]["files"]
    assert sorted(files) == ["helper.py", "team/pipeline.py"]
    url = f"{EXECUTION}/tries/{message.try_id}/files"
    token = bearer(started["token"])
    served = api.client.get(f"{url}/{files['helper.py']}", headers=token)
    assert (served.status_code, served.content) == (200, b"X = 1\n")
    newer = hashlib.sha256(b"X = 2\n").hexdigest()
    assert api.client.get(f"{url}/{newer}", headers=token).status_code == 403
    assert api.client.get(f"{url}/not-a-hash", headers=token).status_code == 422


PAIR = """
from datetime import datetime
from gnomon import DAG, task

with DAG("pair", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def left():
        return 1

    @task
    def right():
        return 2

    left()
    right()
"""


def _pair(orchestrator: Orchestrator, broker: BrokerExecutor) -> tuple[Message, Message]:
    """The messages of ``pair``'s two tasks, queued together."""
    orchestrator.write_dag("pair", PAIR)
    orchestrator.sync()
    orchestrator.start()
    return _pair_again(orchestrator, broker)


def _end_then(
    api: ApiHarness, try_id: int, token: str, then: Message, then_token: str | None = None
) -> httpx.Response:
    now = datetime.now(UTC)
    body = {
        "outcome": {"state": "success", "exit_reason": "success"},
        "ended_at": now.isoformat(),
        "next": {
            **_claim(started_at=now.isoformat()),
            "try_id": then.try_id,
            "token": then_token or then.token,
        },
    }
    return api.client.post(f"{EXECUTION}/tries/{try_id}/end", headers=bearer(token), json=body)


def test_an_end_can_start_the_next_try_in_the_same_request(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    left, right = _pair(orchestrator, broker)
    token = _start(api, left).json()["token"]
    ended = _end_then(api, left.try_id, token, right)
    assert ended.status_code == 200, ended.text
    answer = ended.json()
    assert answer["state"] == "success"
    assert (answer["next"]["try_id"], answer["next"]["status"]) == (right.try_id, 200)
    started = answer["next"]["start"]
    assert started["request"]["task_id"] == "right"
    assert _try(orchestrator, left.try_id).state is TaskState.SUCCESS
    assert _try(orchestrator, right.try_id).state is TaskState.RUNNING
    assert _try(orchestrator, right.try_id).worker == "celery@worker-host"
    # The next try's run token works; its start token was spent on the claim.
    assert _end(api, right.try_id, started["token"]).status_code == 200
    assert orchestrator.wait_run("pair", left.workload.request.run_id) is RunState.SUCCESS


def test_a_next_start_that_is_refused_leaves_the_end_recorded(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    left, right = _pair(orchestrator, broker)
    token = _start(api, left).json()["token"]
    # The next try's start with the ended try's token: another try's token, refused.
    ended = _end_then(api, left.try_id, token, right, then_token=left.token)
    assert ended.status_code == 200, ended.text
    assert ended.json()["next"]["status"] == 403
    assert f"for try {left.try_id}" in ended.json()["next"]["detail"]
    assert _try(orchestrator, left.try_id).state is TaskState.SUCCESS
    assert _try(orchestrator, right.try_id).state is TaskState.QUEUED
    # Started already elsewhere: 409 in the answer.
    assert _start(api, right, pid=1).status_code == 200
    other, _ = _pair_again(orchestrator, broker)
    other_token = _start(api, other).json()["token"]
    again = _end_then(api, other.try_id, other_token, right)
    assert again.json()["next"]["status"] == 409


def _pair_again(orchestrator: Orchestrator, broker: BrokerExecutor) -> tuple[Message, Message]:
    """The messages of a new run of ``pair``."""
    orchestrator.trigger("pair")
    found = sorted((broker.next(), broker.next()), key=lambda m: m.workload.request.task_id)
    return found[0], found[1]


def test_an_end_that_is_refused_starts_no_next_try(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    left, right = _pair(orchestrator, broker)
    token = _start(api, left).json()["token"]
    assert _end(api, left.try_id, token).status_code == 200
    repeated = _end_then(api, left.try_id, token, right)
    assert repeated.status_code == 409
    assert _try(orchestrator, right.try_id).state is TaskState.QUEUED


def test_an_end_whose_next_is_the_try_itself_does_not_start_it_again(
    orchestrator: Orchestrator, broker: BrokerExecutor, api: ApiHarness
) -> None:
    """The next try is read before the end (one query for both), but not the try that ends:
    its start with the same claim would otherwise look like a repeated start."""
    left, _ = _pair(orchestrator, broker)
    now = datetime.now(UTC).isoformat()
    token = _start(api, left, pid=4242, started_at=now).json()["token"]
    body = {
        "outcome": {"state": "success", "exit_reason": "success"},
        "ended_at": now,
        "next": {**_claim(started_at=now), "try_id": left.try_id, "token": left.token},
    }
    ended = api.client.post(
        f"{EXECUTION}/tries/{left.try_id}/end", headers=bearer(token), json=body
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["next"]["status"] == 409
    assert _try(orchestrator, left.try_id).state is TaskState.SUCCESS
