"""Who may call what: every mutating endpoint, called by every role, is refused (403) below its
minimum role and let through at or above it; another team's DAG is 404 on every DAG endpoint.

One app and database serve the whole module (SQLite only): a request at or above the minimum
role may change the data, so each row targets objects that no other row depends on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from support.api import ApiHarness
from support.module_api import sqlite_api

from gnomon import access
from gnomon.api.app import API_PREFIX, create_api
from gnomon.store.models import Role

DAGS = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.empty import EmptyOperator

for dag_id, team in (("shared", None), ("b_only", "team-b")):
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), team=team):
        EmptyOperator(task_id="start") >> EmptyOperator(task_id="end")
"""

ROLE_USERS = {Role.VIEWER: "viewer", Role.USER: "user", Role.OP: "op", Role.ADMIN: "admin"}
#: Mutating endpoints that need no token.
PUBLIC = {("POST", "/auth/token")}


@dataclass(frozen=True)
class Endpoint:
    method: str
    #: The route's path under /api/v1, as declared (``{dag_id}`` etc.).
    template: str
    min_role: Role
    body: dict[str, Any] | None = None
    #: Values of the path's parameters other than ``dag_id`` and ``run_id``.
    params: dict[str, str] = field(default_factory=dict)

    def path(self, dag_id: str, run_id: str) -> str:
        values = {"dag_id": dag_id, "run_id": run_id, **self.params}
        return API_PREFIX + self.template.format(
            **{k: quote(v, safe="") for k, v in values.items()}
        )

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


ENDPOINTS = [
    Endpoint("PATCH", "/dags/{dag_id}", Role.USER, {"is_paused": False}),
    Endpoint("POST", "/dags/{dag_id}/runs", Role.USER, {}),
    Endpoint("POST", "/dags/{dag_id}/runs/{run_id}/clear", Role.USER, {"dry_run": True}),
    Endpoint(
        "POST",
        "/dags/{dag_id}/runs/{run_id}/mark",
        Role.USER,
        {"state": "success", "dry_run": True},
    ),
    Endpoint("PUT", "/pools/{name}", Role.OP, {"slots": 2}, {"name": "matrix"}),
    Endpoint("DELETE", "/pools/{name}", Role.OP, params={"name": "matrix_gone"}),
    Endpoint("PUT", "/variables/{key}", Role.OP, {"value": "v"}, {"key": "matrix"}),
    Endpoint("DELETE", "/variables/{key}", Role.OP, params={"key": "matrix_gone"}),
    Endpoint("PUT", "/connections/{conn_id}", Role.OP, {"conn_type": "http"}, {"conn_id": "m"}),
    Endpoint("DELETE", "/connections/{conn_id}", Role.OP, params={"conn_id": "matrix_gone"}),
    Endpoint(
        "POST",
        "/users",
        Role.ADMIN,
        {"username": "matrix", "password": "long-enough", "role": "viewer"},
    ),
    Endpoint("PATCH", "/users/{username}", Role.ADMIN, {"teams": []}, {"username": "viewer"}),
    Endpoint("DELETE", "/users/{username}", Role.ADMIN, params={"username": "matrix_gone"}),
    Endpoint("POST", "/users/{username}/tokens", Role.ADMIN, {}, {"username": "viewer"}),
    # Anyone may revoke their own tokens; others' are 404 to them.
    Endpoint("DELETE", "/tokens/{token_id}", Role.VIEWER, params={"token_id": "999999"}),
]

#: Endpoints of one DAG that are not in ENDPOINTS (reads).
DAG_READS = [
    Endpoint("GET", "/dags/{dag_id}", Role.VIEWER),
    Endpoint("GET", "/dags/{dag_id}/versions", Role.VIEWER),
    Endpoint(
        "GET", "/dags/{dag_id}/versions/{version_id}/source", Role.VIEWER, None, {"version_id": "1"}
    ),
    Endpoint("GET", "/dags/{dag_id}/runs", Role.VIEWER),
    Endpoint("GET", "/dags/{dag_id}/runs/{run_id}", Role.VIEWER),
]


@dataclass(frozen=True)
class Fixtures:
    api: ApiHarness
    runs: dict[str, str]


@pytest.fixture(scope="module")
def seeded(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixtures]:
    with sqlite_api(sqlite_template, tmp_path_factory.mktemp("matrix")) as (orchestrator, api):
        orchestrator.write_dag("dags", DAGS)
        orchestrator.sync()
        runs = {dag_id: orchestrator.trigger(dag_id) for dag_id in ("shared", "b_only")}
        yield Fixtures(api, runs)


def _call(api: ApiHarness, endpoint: Endpoint, username: str, dag_id: str, run_id: str) -> Any:
    path = endpoint.path(dag_id, run_id)
    if endpoint.body is None:
        return api.client.request(endpoint.method, path, headers=api.headers(username))
    return api.client.request(
        endpoint.method, path, headers=api.headers(username), json=endpoint.body
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("role", list(ROLE_USERS), ids=str)
def test_a_role_below_the_minimum_is_403_and_at_or_above_it_gets_through(
    seeded: Fixtures, endpoint: Endpoint, role: Role
) -> None:
    response = _call(seeded.api, endpoint, ROLE_USERS[role], "shared", seeded.runs["shared"])
    if access.at_least(role, endpoint.min_role):
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == 403, response.text
        assert endpoint.min_role.value in response.json()["detail"]


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS + DAG_READS if "{dag_id}" in e.template], ids=str
)
def test_another_teams_dag_is_404_on_every_dag_endpoint(
    seeded: Fixtures, endpoint: Endpoint
) -> None:
    response = _call(seeded.api, endpoint, "alice", "b_only", seeded.runs["b_only"])
    assert response.status_code == 404, response.text


def test_the_table_lists_every_mutating_endpoint_of_the_api(seeded: Fixtures) -> None:
    app = create_api(seeded.api.config)
    declared = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
        if method not in ("GET", "HEAD", "OPTIONS")
    }
    assert declared - PUBLIC <= {(e.method, e.template) for e in ENDPOINTS}
