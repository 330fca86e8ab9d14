"""The ASGI app: ``/health``, ``/metrics``, the REST API under ``/api/v1`` (OpenAPI at
``/api/v1/openapi.json``), and the web UI at ``/``."""

from __future__ import annotations

from fastapi import FastAPI

from gnomon import ui
from gnomon.api import audit, timing
from gnomon.api.config import ApiConfig
from gnomon.api.routes import audit as audit_routes
from gnomon.api.routes import (
    auth,
    connections,
    dags,
    grid,
    health,
    metrics,
    pools,
    runs,
    task_instances,
    users,
    variables,
)
from gnomon.version import __version__

API_PREFIX = "/api/v1"


def create_api(config: ApiConfig) -> FastAPI:
    """The ``/api/v1`` app. No interactive docs pages: they would load scripts from outside."""
    api = FastAPI(
        title="Gnomon API",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        servers=[{"url": API_PREFIX}],
    )
    api.state.config = config
    for router in (
        auth.router,
        dags.router,
        runs.router,
        task_instances.router,
        grid.router,
        pools.router,
        variables.router,
        connections.router,
        users.router,
        audit_routes.router,
    ):
        api.include_router(router)
    return api


def create_app(config: ApiConfig) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.config = config
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.mount(API_PREFIX, create_api(config))
    ui.mount(app, config)
    app.add_middleware(audit.AuditMiddleware, config=config)
    app.add_middleware(timing.ServerTimingMiddleware)
    return app
