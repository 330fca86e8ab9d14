"""The API app on a test's database, with one user per role and users of two teams.

Users (password ``password-<name>`` for each):
- ``admin``, ``op``, ``user``, ``viewer``: no team, one per role.
- ``alice`` (role user, team ``team-a``), ``bob`` (role user, team ``team-b``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gnomon.api.app import create_app
from gnomon.api.config import ApiConfig
from gnomon.executors import tokens as execution_tokens
from gnomon.store import db, models, secrets, tokens, users
from gnomon.store.models import Role, TokenKind

ROLE_USERS: dict[str, tuple[Role, tuple[str, ...]]] = {
    "admin": (Role.ADMIN, ()),
    "op": (Role.OP, ()),
    "user": (Role.USER, ()),
    "viewer": (Role.VIEWER, ()),
    "alice": (Role.USER, ("team-a",)),
    "bob": (Role.USER, ("team-b",)),
}


@cache
def _password_hash(username: str) -> str:
    # argon2 is slow by design: hash each test user's password once per process.
    return users.hash_password(f"password-{username}")


@dataclass
class ApiHarness:
    engine: Engine
    home: Path
    config: ApiConfig = field(init=False)
    client: TestClient = field(init=False)
    tokens: dict[str, str] = field(default_factory=dict)
    #: fsspec options for logs on a remote store (``ApiConfig.log_storage_options``).
    log_storage_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        key = secrets.load_or_create_key(self.home / "secret.key")
        self.config = ApiConfig(
            engine=self.engine,
            home=self.home,
            logs_folder=self.home / "logs",
            cipher=secrets.Cipher.from_keys(key),
            execution_key=execution_tokens.derive_key(key),
            log_storage_options=self.log_storage_options,
        )
        self.client = TestClient(create_app(self.config))
        with db.session_factory(self.engine).begin() as session:
            for username, (role, teams) in ROLE_USERS.items():
                row = models.User(
                    username=username,
                    password_hash=_password_hash(username),
                    role=role,
                    teams=list(teams),
                    is_active=True,
                )
                session.add(row)
                session.flush()
                secret, _ = tokens.issue(session, row.id, TokenKind.API, expires_at=None)
                self.tokens[username] = secret

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def get(self, path: str, as_user: str = "admin", **kwargs: object) -> httpx.Response:
        return self.client.get(path, headers=self.headers(as_user), **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, as_user: str = "admin", **kwargs: object) -> httpx.Response:
        return self.client.post(path, headers=self.headers(as_user), **kwargs)  # type: ignore[arg-type]

    def patch(self, path: str, as_user: str = "admin", **kwargs: object) -> httpx.Response:
        return self.client.patch(path, headers=self.headers(as_user), **kwargs)  # type: ignore[arg-type]

    def put(self, path: str, as_user: str = "admin", **kwargs: object) -> httpx.Response:
        return self.client.put(path, headers=self.headers(as_user), **kwargs)  # type: ignore[arg-type]

    def delete(self, path: str, as_user: str = "admin", **kwargs: object) -> httpx.Response:
        return self.client.delete(path, headers=self.headers(as_user), **kwargs)  # type: ignore[arg-type]
