"""Every request that may change something (any method but GET, HEAD, OPTIONS) is recorded in
the audit log once it is answered: who, which endpoint, which DAG, the status code. Bodies
are never recorded (they may hold passwords and secrets)."""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gnomon.api.config import ApiConfig
from gnomon.store import audit, exceptions

logger = logging.getLogger(__name__)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuditMiddleware:
    def __init__(self, app: ASGIApp, config: ApiConfig, unaudited: tuple[str, ...] = ()) -> None:
        self.app = app
        self.config = config
        #: Path prefixes not recorded (the execution API: workers' reports, not people's acts).
        self.unaudited = unaudited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in _SAFE_METHODS
            or scope["path"].startswith(self.unaudited)
        ):
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            await anyio.to_thread.run_sync(self._record, scope, status)

    def _record(self, scope: Scope, status: int) -> None:
        state: dict[str, Any] = scope.get("state", {})
        route = scope.get("route")
        params: dict[str, Any] = scope.get("path_params", {})
        query = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client")
        try:
            with self.config.write() as session:
                audit.record(
                    session,
                    username=state.get("username"),
                    action=getattr(route, "name", None) or scope["path"],
                    method=scope["method"],
                    path=scope["path"],
                    status_code=status,
                    dag_id=params.get("dag_id"),
                    details={"query": query} if query else {},
                    remote_addr=client[0] if client else None,
                )
        except exceptions.StoreError:
            logger.exception(
                "could not record %s %s in the audit log", scope["method"], scope["path"]
            )
