"""Dependencies of the execution API (``/execution/v1``): its state and the try's token.

Workers authenticate with an execution token (``executors.tokens``), never with a user's
token or cookie: a token names one try and a scope, is checked by its signature alone (no
database read), and opens only that try's paths. What the API keeps between requests (DAG
versions, bundles: both never change once written) lives in ``ExecutionState``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from gnomon.api import errors
from gnomon.api.config import ApiConfig
from gnomon.executors import tokens
from gnomon.scheduler.versions import VersionCache
from gnomon.store import bundles, stats

_bearer = HTTPBearer(
    auto_error=False,
    description="The try's execution token (gnx_...): a start token from the broker message, "
    "then the run token the start answered with.",
)

TryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The try (task_tries.id).")]


@dataclass
class ExecutionState:
    config: ApiConfig
    versions: VersionCache = field(default_factory=VersionCache)
    upstream_ends: stats.UpstreamEnds = field(default_factory=stats.UpstreamEnds)
    _bundles: dict[int, bundles.Bundle] = field(default_factory=dict)

    def bundle(self, session: Session, version_id: int) -> bundles.Bundle | None:
        """The bundle of a DAG version (kept: a version's bundle never changes). A version
        without one is asked again next time, in case its bundle is written after it."""
        found = self._bundles.get(version_id)
        if found is None:
            found = bundles.of_version(session, version_id)
            if found is not None:
                self._bundles[version_id] = found
        return found

    def run_token(self, try_id: int) -> str:
        assert self.config.execution_key is not None  # checked with the request's token
        return tokens.issue(
            self.config.execution_key, try_id, "run", self.config.execution_token_lifetime
        )


# The dependencies are ``async`` although they never wait: FastAPI runs a plain ``def``
# dependency in the thread pool, a hand-off to a thread and back per dependency per request,
# which cost more than the token check itself (an HMAC: microseconds).
async def execution_state(request: Request) -> ExecutionState:
    found: ExecutionState = request.app.state.execution
    return found


State = Annotated[ExecutionState, Depends(execution_state)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _claims(
    state: ExecutionState,
    credentials: HTTPAuthorizationCredentials | None,
    try_id: int,
    scopes: tuple[tokens.Scope, ...],
) -> tokens.Claims:
    return check_token(
        state, None if credentials is None else credentials.credentials, try_id, scopes
    )


def check_token(
    state: ExecutionState,
    token: str | None,
    try_id: int,
    scopes: tuple[tokens.Scope, ...],
) -> tokens.Claims:
    """The claims of ``token`` if it is valid for ``try_id`` in one of ``scopes``; else the
    error to answer (401: none, forged or expired; 403: another try's, or another scope)."""
    key = state.config.execution_key
    if key is None:
        raise errors.Unavailable(
            "the execution API has no signing key: serve it with `gnomon api`, which derives "
            "one from the secret key"
        )
    if token is None:
        raise errors.Unauthenticated("not authenticated: send the try's execution token")
    try:
        claims = tokens.verify(key, token)
    except tokens.InvalidToken as exc:
        raise errors.Unauthenticated(str(exc)) from None
    if claims.try_id != try_id:
        raise errors.Forbidden(f"this execution token is for try {claims.try_id}, not {try_id}")
    if claims.scope not in scopes:
        needed = " or ".join(scopes)
        raise errors.Forbidden(f"a {claims.scope} token cannot do this: it needs a {needed} token")
    return claims


async def _start_scope(try_id: TryId, state: State, credentials: Credentials) -> tokens.Claims:
    return _claims(state, credentials, try_id, ("start",))


async def _run_scope(try_id: TryId, state: State, credentials: Credentials) -> tokens.Claims:
    return _claims(state, credentials, try_id, ("run",))


async def _any_scope(try_id: TryId, state: State, credentials: Credentials) -> tokens.Claims:
    return _claims(state, credentials, try_id, ("start", "run"))


#: A valid token of the path's try, of the named scope.
StartToken = Annotated[tokens.Claims, Depends(_start_scope)]
RunToken = Annotated[tokens.Claims, Depends(_run_scope)]
AnyToken = Annotated[tokens.Claims, Depends(_any_scope)]
