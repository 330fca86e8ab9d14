"""The web UI: server-rendered pages and a little JavaScript, on the API's data."""

from __future__ import annotations

from fastapi import FastAPI

from gnomon.api.config import ApiConfig


def mount(app: FastAPI, config: ApiConfig) -> None:
    """Add the UI's routes and static files to ``app`` (placeholder until the UI lands)."""
