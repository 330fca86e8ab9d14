"""Request dependencies: the app's config, the caller (bearer token or UI session), roles."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from gnomon import access
from gnomon.api import errors
from gnomon.api.config import ApiConfig
from gnomon.store import dags, tokens
from gnomon.store.columns import utcnow
from gnomon.store.models import Role, TokenKind

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token.")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def config(request: Request) -> ApiConfig:
    found: ApiConfig = request.app.state.config
    return found


Config = Annotated[ApiConfig, Depends(config)]


def authenticate(
    request: Request,
    cfg: Config,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> access.Principal:
    """The caller: a bearer token (login or API token), else the UI's session cookie, whose
    changes must carry the session's CSRF token in the ``X-CSRF-Token`` header."""
    if credentials is not None:
        kinds: tuple[TokenKind, ...] = (TokenKind.LOGIN, TokenKind.API)
        secret = credentials.credentials
        cookie = False
    elif (session_secret := request.cookies.get(access.SESSION_COOKIE)) is not None:
        kinds = (TokenKind.SESSION,)
        secret = session_secret
        cookie = True
    else:
        raise errors.Unauthenticated()
    principal = principal_of(cfg, secret, kinds)
    if principal is None:
        raise errors.Unauthenticated("invalid, expired or revoked token: log in again")
    if cookie and request.method not in _SAFE_METHODS:
        sent = request.headers.get(access.CSRF_HEADER, "")
        if not hmac.compare_digest(sent, access.csrf_token(secret)):
            raise errors.Forbidden(f"missing or wrong {access.CSRF_HEADER} header")
    request.state.username = principal.username
    return principal


def principal_of(
    cfg: ApiConfig, secret: str, kinds: tuple[TokenKind, ...]
) -> access.Principal | None:
    """The user of a live token with this secret (of one of ``kinds``), else None."""
    with cfg.read() as session:
        found = tokens.resolve(session, secret, kinds, utcnow())
    if found is None:
        return None
    token, user = found
    return access.Principal(user.id, user.username, user.role, frozenset(user.teams), token.id)


def require(role: Role) -> Callable[[access.Principal], access.Principal]:
    def check(
        principal: Annotated[access.Principal, Depends(authenticate)],
    ) -> access.Principal:
        if not principal.may(role):
            raise errors.Forbidden(
                f"user {principal.username!r} has role {principal.role.value!r}; this needs "
                f"{role.value!r} or higher"
            )
        return principal

    return check


#: The caller, with at least the named role.
AsViewer = Annotated[access.Principal, Depends(require(Role.VIEWER))]
AsUser = Annotated[access.Principal, Depends(require(Role.USER))]
AsOp = Annotated[access.Principal, Depends(require(Role.OP))]
AsAdmin = Annotated[access.Principal, Depends(require(Role.ADMIN))]


def visible_dag(session: Session, principal: access.Principal, dag_id: str) -> dags.Dag:
    """The DAG if the caller may see it; else 404, whether it exists or not."""
    found = dags.get(session, dag_id)
    if found is None or not principal.sees_team(found.team):
        raise errors.NotFound(f"DAG {dag_id!r} not found")
    return found
