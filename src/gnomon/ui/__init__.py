"""The web UI: server-rendered pages and a little JavaScript, on the API's data."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gnomon.api.config import ApiConfig
from gnomon.ui import routes


def mount(app: FastAPI, config: ApiConfig) -> None:
    """Add the UI's pages (``/``, ``/login``, ``/dags/...``, ``/audit``) and ``/static``."""
    app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
