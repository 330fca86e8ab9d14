"""DAG endpoints: listing with filters and teams, detail, pause."""

from __future__ import annotations

from support.api import ApiHarness
from support.orchestrator import Orchestrator

TEAM_DAGS = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.empty import EmptyOperator

for dag_id, team, tags in (
    ("shared", None, ["core"]),
    ("a_only", "team-a", ["core", "finance"]),
    ("b_only", "team-b", ["marketing"]),
):
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), team=team, tags=tags):
        EmptyOperator(task_id="start") >> EmptyOperator(task_id="end")
"""


def _ids(body: dict[str, object]) -> list[str]:
    items = body["items"]
    assert isinstance(items, list)
    return [item["dag_id"] for item in items]


def test_a_user_sees_their_teams_dags_and_those_of_no_team(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("teams", TEAM_DAGS)
    orchestrator.sync()
    assert _ids(api.get("/api/v1/dags", as_user="alice").json()) == ["a_only", "shared"]
    assert _ids(api.get("/api/v1/dags", as_user="admin").json()) == ["a_only", "b_only", "shared"]


def test_another_teams_dag_answers_404_to_every_verb(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("teams", TEAM_DAGS)
    orchestrator.sync()
    assert api.get("/api/v1/dags/b_only", as_user="alice").status_code == 404
    assert api.get("/api/v1/dags/b_only", as_user="bob").status_code == 200
    patched = api.patch("/api/v1/dags/b_only", as_user="alice", json={"is_paused": True})
    assert patched.status_code == 404
    assert api.get("/api/v1/dags/b_only", as_user="bob").json()["is_paused"] is False


def test_the_list_filters_by_tag_pause_and_name_and_pages(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("teams", TEAM_DAGS)
    orchestrator.sync()
    api.patch("/api/v1/dags/shared", json={"is_paused": True})
    assert _ids(api.get("/api/v1/dags", params={"tags": ["core"]}).json()) == ["a_only", "shared"]
    tags_both = api.get("/api/v1/dags", params={"tags": ["core", "finance"]}).json()
    assert _ids(tags_both) == ["a_only"]
    assert _ids(api.get("/api/v1/dags", params={"paused": True}).json()) == ["shared"]
    assert _ids(api.get("/api/v1/dags", params={"dag_id_pattern": "_only"}).json()) == [
        "a_only",
        "b_only",
    ]
    page = api.get("/api/v1/dags", params={"limit": 1, "offset": 1}).json()
    assert (_ids(page), page["total"]) == (["b_only"], 3)


def test_the_detail_has_the_structure_of_the_latest_version(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("teams", TEAM_DAGS)
    orchestrator.sync()
    body = api.get("/api/v1/dags/shared").json()
    assert body["order"] == ["start", "end"]
    assert [(t["task_id"], t["downstream"]) for t in body["tasks"]] == [
        ("start", ["end"]),
        ("end", []),
    ]
    versions = api.get("/api/v1/dags/shared/versions").json()["items"]
    source = api.get(f"/api/v1/dags/shared/versions/{versions[0]['id']}/source").json()
    assert "EmptyOperator" in source["source_code"]


def test_a_viewer_cannot_pause_but_a_user_can(orchestrator: Orchestrator, api: ApiHarness) -> None:
    orchestrator.write_dag("teams", TEAM_DAGS)
    orchestrator.sync()
    assert (
        api.patch("/api/v1/dags/shared", as_user="viewer", json={"is_paused": True}).status_code
        == 403
    )
    response = api.patch("/api/v1/dags/shared", as_user="user", json={"is_paused": True})
    assert response.status_code == 200
    assert response.json()["is_paused"] is True
