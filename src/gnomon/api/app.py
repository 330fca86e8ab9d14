"""The ASGI app: ``/health``, ``/metrics``, the REST API under ``/api/v1`` (OpenAPI at
``/api/v1/openapi.json``), the execution API for remote workers under ``/execution/v1``, and
the web UI at ``/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gnomon import ui
from gnomon.api import audit, timing
from gnomon.api.config import ApiConfig
from gnomon.api.execution_deps import ExecutionState
from gnomon.api.routes import audit as audit_routes
from gnomon.api.routes import (
    auth,
    connections,
    dags,
    execution,
    grid,
    health,
    metrics,
    pools,
    runs,
    task_instances,
    users,
    variables,
)
from gnomon.store import exceptions
from gnomon.version import __version__

API_PREFIX = "/api/v1"
EXECUTION_PREFIX = "/execution/v1"


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


def create_execution_api(config: ApiConfig) -> FastAPI:
    """The ``/execution/v1`` app for remote workers: its own tokens (no users, no cookies),
    not audited (it is the hot path: every try starts, heartbeats and ends through it)."""
    api = FastAPI(
        title="Gnomon execution API",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        servers=[{"url": EXECUTION_PREFIX}],
    )
    api.state.execution = ExecutionState(config)
    api.include_router(execution.router)

    # Workers retry a 503 (and keep their end reports) until the database is back.
    @api.exception_handler(exceptions.DatabaseUnavailable)
    @api.exception_handler(exceptions.DatabaseLocked)
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    return api


def create_app(config: ApiConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The limiter sync endpoints (and the audit's writes) run under: one per event loop.
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.threads
        yield

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.config = config
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.mount(API_PREFIX, create_api(config))
    app.mount(EXECUTION_PREFIX, create_execution_api(config))
    ui.mount(app, config)
    app.add_middleware(audit.AuditMiddleware, config=config, unaudited=(EXECUTION_PREFIX,))
    app.add_middleware(timing.ServerTimingMiddleware)
    return app
