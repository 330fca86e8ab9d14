"""The API works on as many requests at once as it is configured to (``ApiConfig.threads``)."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
from fastapi.testclient import TestClient

from gnomon.api.app import create_app
from gnomon.api.config import ApiConfig
from gnomon.store import db, secrets


def _limiter_tokens() -> float:
    return anyio.to_thread.current_default_thread_limiter().total_tokens


def test_endpoints_run_in_as_many_threads_as_the_config_says(tmp_path: Path) -> None:
    engine = db.make_engine(db.default_sqlite_url(tmp_path))  # never connected to
    config = ApiConfig(
        engine=engine,
        home=tmp_path,
        logs_folder=tmp_path / "logs",
        cipher=secrets.Cipher.from_keys(secrets.load_or_create_key(tmp_path / "secret.key")),
        threads=7,
    )
    with TestClient(create_app(config)) as client:
        assert client.portal is not None  # the app's lifespan is running
        assert client.portal.call(_limiter_tokens) == 7
