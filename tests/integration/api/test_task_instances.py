"""Task-instance endpoints: an instance with its fields and tries, tries, XComs; the grid."""

from __future__ import annotations

from support.api import ApiHarness
from support.orchestrator import Orchestrator

from gnomon.semantics.states import RunState

MAPPED = """
from datetime import datetime
from gnomon import DAG, task
from gnomon.operators.bash import BashOperator

with DAG("mapped", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def double(x):
        return x * 2

    hello = BashOperator(task_id="hello", bash_command="echo hello {{ run_id }}")
    hello >> double.expand(x=[1, 2, 3])
"""

BASE = "/api/v1/dags/mapped/runs"


def _run(orchestrator: Orchestrator) -> str:
    orchestrator.write_dag("mapped", MAPPED)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("mapped")
    assert orchestrator.wait_run("mapped", run_id) is RunState.SUCCESS
    return run_id


def test_an_instance_shows_its_tasks_fields_and_its_tries(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    run_id = _run(orchestrator)
    body = api.get(f"{BASE}/{run_id}/tasks/hello").json()
    assert (body["state"], body["try_number"], body["operator"]) == ("success", 1, "BashOperator")
    assert body["fields"]["bash_command"] == "echo hello {{ run_id }}"
    assert [t["try_number"] for t in body["tries"]] == [1]


def test_a_mapped_instance_is_found_by_its_map_index(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    run_id = _run(orchestrator)
    found = api.get(f"{BASE}/{run_id}/tasks/double", params={"map_index": 2})
    assert (found.json()["map_index"], found.json()["state"]) == (2, "success")
    assert api.get(f"{BASE}/{run_id}/tasks/double", params={"map_index": 7}).status_code == 404


def test_a_try_says_where_it_ran_and_where_its_log_is(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    run_id = _run(orchestrator)
    page = api.get(f"{BASE}/{run_id}/tasks/hello/tries").json()
    assert (page["total"], page["items"][0]["try_number"]) == (1, 1)
    one = api.get(f"{BASE}/{run_id}/tasks/hello/tries/1").json()
    assert one["state"] == "success"
    assert one["pid"] is not None and one["log_location"]
    assert api.get(f"{BASE}/{run_id}/tasks/hello/tries/2").status_code == 404


def test_the_xcoms_of_a_mapped_instance_are_its_own(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    run_id = _run(orchestrator)
    page = api.get(f"{BASE}/{run_id}/tasks/double/xcoms", params={"map_index": 1}).json()
    assert page["items"] == [{"key": "return_value", "map_index": 1, "value": 4}]


def test_the_grid_has_a_row_per_run_newest_first_and_one_cell_per_mapped_task(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    first = _run(orchestrator)
    api.post(BASE, json={"run_id": "second"})
    assert orchestrator.wait_run("mapped", "second") is RunState.SUCCESS
    api.post(f"{BASE}/{first}/mark", json={"state": "failed", "task_ids": ["double"]})
    grid = api.get("/api/v1/dags/mapped/grid").json()
    assert [(t["task_id"], t["is_mapped"]) for t in grid["tasks"]] == [
        ("hello", False),
        ("double", True),
    ]
    assert [r["run_id"] for r in grid["runs"]] == ["second", first]
    assert grid["states"] == [["success", "success"], ["success", "failed"]]
    assert grid["tries"] == [[1, 1], [1, 1]]
