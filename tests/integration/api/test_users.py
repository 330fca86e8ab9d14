"""Users, their API tokens, and the audit log (admin)."""

from __future__ import annotations

from support.api import ApiHarness


def test_an_admin_creates_a_user_who_can_then_log_in(api: ApiHarness) -> None:
    body = {"username": "carol", "password": "long-enough", "role": "op", "teams": ["team-a"]}
    created = api.post("/api/v1/users", json=body)
    assert created.status_code == 201
    assert created.json()["role"] == "op"
    assert api.post("/api/v1/users", json=body).status_code == 409
    login = api.client.post(
        "/api/v1/auth/token", json={"username": "carol", "password": "long-enough"}
    )
    assert login.status_code == 200


def test_a_weak_password_is_422_naming_the_rule(api: ApiHarness) -> None:
    body = {"username": "carol", "password": "short", "role": "user"}
    refused = api.post("/api/v1/users", json=body)
    assert refused.status_code == 422
    assert "at least 8 characters" in refused.json()["detail"]


def test_patching_a_user_changes_only_the_fields_sent(api: ApiHarness) -> None:
    patched = api.patch("/api/v1/users/alice", json={"role": "op"})
    assert patched.json()["role"] == "op"
    assert patched.json()["teams"] == ["team-a"]
    api.patch("/api/v1/users/alice", json={"is_active": False})
    assert api.get("/api/v1/auth/me", as_user="alice").status_code == 401


def test_a_deleted_users_tokens_stop_working(api: ApiHarness) -> None:
    assert api.delete("/api/v1/users/bob").status_code == 204
    assert api.get("/api/v1/users/bob").status_code == 404
    assert api.get("/api/v1/auth/me", as_user="bob").status_code == 401


def test_a_new_api_token_works_and_listings_show_no_secret(api: ApiHarness) -> None:
    created = api.post("/api/v1/users/viewer/tokens", json={"name": "ci", "expires_days": 30})
    assert created.status_code == 201
    token = created.json()
    assert token["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert api.client.get("/api/v1/auth/me", headers=headers).json()["username"] == "viewer"
    listed = api.get("/api/v1/users/viewer/tokens")
    assert token["access_token"] not in listed.text
    assert [t["name"] for t in listed.json()] == [None, "ci"]


def test_a_user_may_revoke_their_own_token_but_not_anothers(api: ApiHarness) -> None:
    own = api.post("/api/v1/users/viewer/tokens", json={}).json()
    other = api.post("/api/v1/users/op/tokens", json={}).json()
    assert api.delete(f"/api/v1/tokens/{other['id']}", as_user="viewer").status_code == 404
    assert api.delete(f"/api/v1/tokens/{own['id']}", as_user="viewer").status_code == 204
    headers = {"Authorization": f"Bearer {own['access_token']}"}
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert api.delete(f"/api/v1/tokens/{other['id']}").status_code == 204


def test_the_audit_log_filters_by_user(api: ApiHarness) -> None:
    api.put("/api/v1/pools/etl", as_user="op", json={"slots": 1})
    api.put("/api/v1/variables/x", as_user="admin", json={"value": "1"})
    entries = api.get("/api/v1/audit", params={"username": "op"}).json()
    assert [(e["action"], e["method"], e["status_code"]) for e in entries["items"]] == [
        ("put_pool", "PUT", 200)
    ]
    assert entries["total"] == 1
