"""Run endpoints: trigger, list, detail, clear, mark."""

from __future__ import annotations

from typing import Any

from support.api import ApiHarness
from support.orchestrator import Orchestrator

from gnomon.semantics.states import RunState

PARAMS = """
from datetime import datetime
from gnomon import DAG, Param, task

with DAG(
    "with_params",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    params={"limit": Param(10, type="integer")},
) as dag:
    @task
    def first(params=None):
        return params["limit"]

    @task
    def second(value):
        return value + 1

    second(first())
"""

TEAMS = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.empty import EmptyOperator

for dag_id, team in (("a_only", "team-a"), ("b_only", "team-b")):
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), team=team):
        EmptyOperator(task_id="start")
"""

RUNS = "/api/v1/dags/with_params/runs"


def _tasks(body: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {t["task_id"]: (t["state"], t["try_number"]) for t in body["tasks"]}


def test_a_run_triggered_with_a_valid_param_runs_to_success(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    orchestrator.start()
    response = api.post(RUNS, as_user="user", json={"conf": {"limit": 5}, "run_id": "mine"})
    assert response.status_code == 200
    assert (response.json()["run_id"], response.json()["state"]) == ("mine", "queued")
    assert orchestrator.wait_run("with_params", "mine") is RunState.SUCCESS
    assert orchestrator.xcom("with_params", "mine", "second") == 6


def test_a_trigger_with_a_bad_param_answers_422_naming_the_param(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    response = api.post(RUNS, json={"conf": {"limit": "many"}})
    assert response.status_code == 422
    assert "limit" in response.json()["detail"]


def test_a_trigger_with_a_taken_run_id_answers_409(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    assert api.post(RUNS, json={"run_id": "once"}).status_code == 200
    response = api.post(RUNS, json={"run_id": "once"})
    assert response.status_code == 409
    assert "once" in response.json()["detail"]


def test_triggering_another_teams_dag_answers_404(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("teams", TEAMS)
    orchestrator.sync()
    assert api.post("/api/v1/dags/b_only/runs", as_user="alice", json={}).status_code == 404
    assert orchestrator.runs_of("b_only") == []


def test_a_viewer_cannot_trigger(orchestrator: Orchestrator, api: ApiHarness) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    assert api.post(RUNS, as_user="viewer", json={}).status_code == 403


def test_runs_are_listed_newest_first_and_filtered_by_state(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    for run_id in ("r1", "r2", "r3"):
        api.post(RUNS, json={"run_id": run_id})
    api.post(f"{RUNS}/r2/mark", json={"state": "failed"})
    page = api.get(RUNS).json()
    assert ([r["run_id"] for r in page["items"]], page["total"]) == (["r3", "r2", "r1"], 3)
    failed = api.get(RUNS, params={"state": ["failed"]}).json()["items"]
    assert [r["run_id"] for r in failed] == ["r2"]


def test_the_runs_of_every_dag_hold_only_the_callers_teams(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("teams", TEAMS)
    orchestrator.sync()
    for dag_id in ("a_only", "b_only"):
        api.post(f"/api/v1/dags/{dag_id}/runs", json={})
    mine = api.get("/api/v1/runs", as_user="alice").json()["items"]
    assert [r["dag_id"] for r in mine] == ["a_only"]
    every = api.get("/api/v1/runs", params={"dag_id": ["b_only"]}).json()["items"]
    assert [r["dag_id"] for r in every] == ["b_only"]


def test_the_run_detail_lists_its_task_instances(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    api.post(RUNS, json={"run_id": "r"})
    body = api.get(f"{RUNS}/r").json()
    assert (body["run_id"], body["state"]) == ("r", "queued")
    assert _tasks(body) == {"first": ("none", 0), "second": ("none", 0)}
    assert api.get(f"{RUNS}/nope").status_code == 404


def test_a_dry_run_clear_lists_the_instances_and_changes_nothing(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("with_params")
    orchestrator.wait_run("with_params", run_id)
    response = api.post(f"{RUNS}/{run_id}/clear", json={"task_ids": ["second"], "dry_run": True})
    assert response.json() == {
        "dry_run": True,
        "task_instances": [{"task_id": "second", "map_index": -1, "state": "success"}],
    }
    assert _tasks(api.get(f"{RUNS}/{run_id}").json())["second"] == ("success", 1)


def test_clearing_a_task_runs_it_again(orchestrator: Orchestrator, api: ApiHarness) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("with_params")
    orchestrator.wait_run("with_params", run_id)
    response = api.post(f"{RUNS}/{run_id}/clear", json={"task_ids": ["first"]})
    assert [t["task_id"] for t in response.json()["task_instances"]] == ["first"]
    assert orchestrator.wait_run("with_params", run_id) is RunState.SUCCESS
    assert _tasks(api.get(f"{RUNS}/{run_id}").json()) == {
        "first": ("success", 2),
        "second": ("success", 1),
    }


def test_clearing_an_unknown_task_answers_422(orchestrator: Orchestrator, api: ApiHarness) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    api.post(RUNS, json={"run_id": "r"})
    response = api.post(f"{RUNS}/r/clear", json={"task_ids": ["nope"]})
    assert response.status_code == 422
    assert "nope" in response.json()["detail"]


def test_marking_the_whole_run_success_sets_its_unfinished_instances_and_the_run(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    api.post(RUNS, json={"run_id": "r"})
    response = api.post(f"{RUNS}/r/mark", json={"state": "success"})
    assert [(t["task_id"], t["state"]) for t in response.json()["task_instances"]] == [
        ("first", "none"),
        ("second", "none"),
    ]
    body = api.get(f"{RUNS}/r").json()
    assert body["state"] == "success"
    assert _tasks(body) == {"first": ("success", 0), "second": ("success", 0)}


def test_marking_a_task_failed_with_downstream_sets_both_and_leaves_the_run(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    api.post(RUNS, json={"run_id": "r"})
    body = {"state": "failed", "task_ids": ["first"], "include_downstream": True}
    assert len(api.post(f"{RUNS}/r/mark", json=body).json()["task_instances"]) == 2
    run = api.get(f"{RUNS}/r").json()
    assert run["state"] == "queued"
    assert _tasks(run) == {"first": ("failed", 0), "second": ("failed", 0)}


def test_a_dry_run_mark_changes_nothing(orchestrator: Orchestrator, api: ApiHarness) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    api.post(RUNS, json={"run_id": "r"})
    body = {"state": "success", "task_ids": ["second"], "dry_run": True}
    response = api.post(f"{RUNS}/r/mark", json=body).json()
    assert response["task_instances"] == [{"task_id": "second", "map_index": -1, "state": "none"}]
    assert _tasks(api.get(f"{RUNS}/r").json())["second"] == ("none", 0)
