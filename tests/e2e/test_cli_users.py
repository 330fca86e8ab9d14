"""``gnomon users`` and ``gnomon tokens`` as an admin runs them; the token works on the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.cli import gnomon, migrated_home

from gnomon.api.app import create_app
from gnomon.api.config import ApiConfig
from gnomon.store import db, secrets


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return migrated_home(tmp_path)


def _whoami(home: Path, token: str) -> tuple[int, object]:
    engine = db.make_engine(db.default_sqlite_url(home))
    try:
        config = ApiConfig(
            engine=engine,
            home=home,
            logs_folder=home / "logs",
            cipher=secrets.Cipher.from_keys(secrets.load_or_create_key(home / "secret.key")),
        )
        with TestClient(create_app(config)) as client:
            response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            return response.status_code, response.json()
    finally:
        engine.dispose()


def test_a_created_user_gets_a_long_lived_token_that_the_api_accepts(home: Path) -> None:
    created = gnomon(
        home,
        "users",
        "create",
        "--username",
        "carol",
        "--role",
        "op",
        "--team",
        "data",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert created.returncode == 0, created.stderr
    issued = gnomon(
        home, "tokens", "create", "--username", "carol", "--expires", "30", "-o", "json"
    )
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)
    assert token["expires_at"] is not None
    assert _whoami(home, token["access_token"]) == (
        200,
        {"username": "carol", "role": "op", "teams": ["data"]},
    )
    revoked = gnomon(home, "tokens", "revoke", str(token["id"]))
    assert revoked.returncode == 0, revoked.stderr
    assert _whoami(home, token["access_token"])[0] == 401


def test_a_duplicate_user_or_a_short_password_is_refused(home: Path) -> None:
    args = ("users", "create", "--username", "dave", "--role", "viewer", "--password-stdin")
    assert gnomon(home, *args, stdin="long enough pw\n").returncode == 0
    again = gnomon(home, *args, stdin="long enough pw\n")
    assert again.returncode == 1
    assert "exists already" in again.stderr
    short = gnomon(
        home,
        "users",
        "create",
        "--username",
        "erin",
        "--role",
        "viewer",
        "--password-stdin",
        stdin="short\n",
    )
    assert short.returncode == 2
    assert "at least 8 characters" in short.stderr
    listed = json.loads(gnomon(home, "users", "list", "-o", "json").stdout)
    assert [u["username"] for u in listed] == ["dave"]


def test_a_token_for_an_unknown_user_is_refused(home: Path) -> None:
    done = gnomon(home, "tokens", "create", "--username", "nobody")
    assert done.returncode == 1
    assert "no user named 'nobody'" in done.stderr
