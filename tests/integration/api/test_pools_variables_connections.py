"""Pools, variables and connections: what op may change, and what nobody may read back."""

from __future__ import annotations

from support.api import ApiHarness


def test_a_pool_is_created_replaced_listed_with_open_slots_and_deleted(api: ApiHarness) -> None:
    created = api.put("/api/v1/pools/etl", as_user="op", json={"slots": 3, "description": "ETL"})
    assert created.status_code == 200
    assert created.json() == {
        "name": "etl",
        "slots": 3,
        "description": "ETL",
        "used_slots": 0,
        "open_slots": 3,
    }
    api.put("/api/v1/pools/etl", as_user="op", json={"slots": -1})
    listed = api.get("/api/v1/pools", as_user="viewer").json()
    assert [(p["name"], p["slots"], p["open_slots"]) for p in listed["items"]] == [
        ("default_pool", 128, 128),
        ("etl", -1, None),
    ]
    assert api.delete("/api/v1/pools/etl", as_user="op").status_code == 204
    missing = api.get("/api/v1/pools/etl", as_user="viewer")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "pool 'etl' not found"}


def test_the_default_pool_cannot_be_deleted_and_slots_below_minus_one_are_refused(
    api: ApiHarness,
) -> None:
    refused = api.delete("/api/v1/pools/default_pool", as_user="op")
    assert refused.status_code == 409
    assert "default_pool" in refused.json()["detail"]
    assert api.put("/api/v1/pools/etl", as_user="op", json={"slots": -2}).status_code == 422
    assert api.delete("/api/v1/pools/nope", as_user="op").status_code == 404


def test_a_variables_value_is_shown_only_by_its_own_endpoint(api: ApiHarness) -> None:
    body = {"value": "s3://bucket", "description": "where"}
    assert api.put("/api/v1/variables/target", as_user="op", json=body).json() == {
        "key": "target",
        "description": "where",
    }
    assert api.get("/api/v1/variables", as_user="op").json()["items"] == [
        {"key": "target", "description": "where"}
    ]
    assert api.get("/api/v1/variables/target", as_user="op").json()["value"] == "s3://bucket"
    assert api.delete("/api/v1/variables/target", as_user="op").status_code == 204
    assert api.get("/api/v1/variables/target", as_user="op").status_code == 404


def test_a_connections_password_and_extra_are_never_returned(api: ApiHarness) -> None:
    body = {
        "conn_type": "postgres",
        "host": "db",
        "schema": "warehouse",
        "login": "etl",
        "port": 5432,
        "password": "hunter22",
        "extra": {"sslmode": "require"},
    }
    put = api.put("/api/v1/connections/wh", as_user="op", json=body)
    got = api.get("/api/v1/connections/wh", as_user="op")
    listed = api.get("/api/v1/connections", as_user="op")
    for response in (put, got, listed):
        assert response.status_code == 200
        assert "hunter22" not in response.text
        assert "sslmode" not in response.text
    assert got.json() == {
        "conn_id": "wh",
        "conn_type": "postgres",
        "host": "db",
        "schema": "warehouse",
        "login": "etl",
        "port": 5432,
        "description": None,
        "has_password": True,
        "has_extra": True,
    }
    assert api.delete("/api/v1/connections/wh", as_user="op").status_code == 204
    assert api.get("/api/v1/connections/wh", as_user="op").status_code == 404
