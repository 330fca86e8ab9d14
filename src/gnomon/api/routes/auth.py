"""``POST /auth/token``: username and password for a short-lived bearer token."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from gnomon.api import errors
from gnomon.api.deps import AsViewer, Config
from gnomon.store import tokens
from gnomon.store.columns import utcnow
from gnomon.store.models import Role, TokenKind

router = APIRouter(prefix="/auth", tags=["auth"], responses=errors.RESPONSES)


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=250)
    password: str = Field(min_length=1, max_length=1000)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime | None


class Me(BaseModel):
    username: str
    role: Role
    teams: list[str]


@router.post(
    "/token",
    response_model=TokenOut,
    responses={401: {"model": errors.ErrorOut, "description": "Wrong credentials"}},
)
def create_token(body: Credentials, cfg: Config, request: Request) -> TokenOut:
    request.state.username = body.username
    with cfg.write() as session:
        issued = tokens.log_in(
            session,
            body.username,
            body.password,
            TokenKind.LOGIN,
            now=utcnow(),
            lifetime=cfg.token_lifetime,
        )
    if issued is None:
        raise errors.Unauthenticated("wrong username or password")
    secret, token = issued
    return TokenOut(access_token=secret, expires_at=token.expires_at)


@router.get("/me", response_model=Me)
def me(principal: AsViewer) -> Me:
    """Who the token belongs to."""
    return Me(username=principal.username, role=principal.role, teams=sorted(principal.teams))
