"""Logging in for a token, and what a token, a wrong one or none at all gets."""

from __future__ import annotations

from datetime import datetime

from support.api import ApiHarness


def test_username_and_password_give_a_bearer_token_with_an_expiry(api: ApiHarness) -> None:
    response = api.client.post(
        "/api/v1/auth/token", json={"username": "viewer", "password": "password-viewer"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert datetime.fromisoformat(body["expires_at"]) > datetime.fromisoformat(
        "2000-01-01T00:00:00+00:00"
    )
    me = api.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json() == {"username": "viewer", "role": "viewer", "teams": []}


def test_wrong_password_or_unknown_user_is_401(api: ApiHarness) -> None:
    for username, password in (("viewer", "password-nope"), ("nobody", "password-nobody")):
        response = api.client.post(
            "/api/v1/auth/token", json={"username": username, "password": password}
        )
        assert response.status_code == 401, username


def test_a_request_without_or_with_a_bad_token_is_401(api: ApiHarness) -> None:
    assert api.client.get("/api/v1/dags").status_code == 401
    bad = api.client.get("/api/v1/dags", headers={"Authorization": "Bearer gnm_nope"})
    assert bad.status_code == 401


def test_health_needs_no_token_and_reports_the_database(api: ApiHarness) -> None:
    response = api.client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"]["status"] == "healthy"


def test_every_mutating_request_is_audited_with_its_user(api: ApiHarness) -> None:
    api.client.post("/api/v1/auth/token", json={"username": "op", "password": "password-op"})
    api.patch("/api/v1/dags/missing", as_user="user", json={"is_paused": True})
    entries = api.get("/api/v1/audit", as_user="admin").json()["items"]
    assert [(e["username"], e["action"], e["status_code"]) for e in entries[:2]] == [
        ("user", "patch_dag", 404),
        ("op", "create_token", 200),
    ]
