"""Log endpoints: a try's log in pieces from an offset, and as a stream of server-sent events."""

from __future__ import annotations

import json
from pathlib import Path

from support.api import ApiHarness
from support.orchestrator import Orchestrator

from gnomon.semantics.states import RunState

PRINTS = """
from datetime import datetime
from gnomon import DAG, task

with DAG("prints", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def talk():
        print("the answer is 42")

    talk()
"""

TRY = "/api/v1/dags/prints/runs/{run_id}/tasks/talk/tries/1"


def _finished_try(orchestrator: Orchestrator) -> str:
    orchestrator.write_dag("prints", PRINTS)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("prints")
    assert orchestrator.wait_run("prints", run_id) is RunState.SUCCESS
    return TRY.format(run_id=run_id)


def test_the_log_holds_what_the_task_printed_and_is_complete_once_the_try_ended(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    url = _finished_try(orchestrator)
    body = api.get(f"{url}/logs").json()
    assert "the answer is 42" in body["content"]
    assert body["complete"] is True
    assert body["next_offset"] == len(body["content"].encode())


def test_reading_on_from_next_offset_returns_only_new_content(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    url = _finished_try(orchestrator)
    first = api.get(f"{url}/logs").json()
    location = Path(api.get(url).json()["log_location"])
    with location.open("a") as f:
        f.write("appended later\n")
    second = api.get(f"{url}/logs", params={"offset": first["next_offset"]}).json()
    assert second["content"] == "appended later\n"
    assert second["next_offset"] == first["next_offset"] + len("appended later\n")


def test_the_stream_delivers_the_log_and_ends(orchestrator: Orchestrator, api: ApiHarness) -> None:
    url = _finished_try(orchestrator)
    headers = api.headers("admin")
    with api.client.stream("GET", f"{url}/logs/stream", headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = list(response.iter_lines())
    data = [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]
    assert "the answer is 42" in data[0]["content"]
    assert "event: end" in lines


def test_the_log_of_a_try_that_does_not_exist_answers_404(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    url = _finished_try(orchestrator).replace("tries/1", "tries/9")
    assert api.get(f"{url}/logs").status_code == 404
    assert api.get(f"{url}/logs/stream").status_code == 404
