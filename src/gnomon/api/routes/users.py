"""Users and their long-lived API tokens (admin); revoking a token (admin, or its owner)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from gnomon.api import errors
from gnomon.api.deps import AsAdmin, AsViewer, Config
from gnomon.api.pagination import Page, PagingParams
from gnomon.store import exceptions, models, tokens, users
from gnomon.store.columns import utcnow
from gnomon.store.models import Role, TokenKind

router = APIRouter(tags=["users"], responses=errors.RESPONSES)

Username = Annotated[str, Path(min_length=1, max_length=models.ID_LEN)]
Team = Annotated[str, Field(min_length=1, max_length=models.ID_LEN)]
#: Days a token may live at most (about a century; longer: create it without expiry).
MAX_TOKEN_DAYS = 36_500


class UserOut(BaseModel):
    username: str
    role: Role
    teams: list[str]
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: users.User) -> UserOut:
        return cls(
            username=user.username,
            role=user.role,
            teams=list(user.teams),
            is_active=user.is_active,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=models.ID_LEN)
    password: str = Field(min_length=1, max_length=1000)
    role: Role
    teams: list[Team] = Field(default_factory=list, max_length=100)


class UserPatch(BaseModel):
    role: Role | None = None
    teams: list[Team] | None = Field(default=None, max_length=100)
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1000)


class TokenInfo(BaseModel):
    """A token without its secret."""

    id: int
    kind: TokenKind
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: tokens.Token) -> TokenInfo:
        return cls(
            id=token.id,
            kind=token.kind,
            name=token.name,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
        )


class TokenCreate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=models.ID_LEN)
    expires_days: int | None = Field(
        default=None, ge=1, le=MAX_TOKEN_DAYS, description="Days until it expires; null: never."
    )


class NewToken(BaseModel):
    """A new token: its secret is shown here only."""

    id: int
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime | None


def _user(session: Session, username: str) -> users.User:
    found = users.get_by_name(session, username)
    if found is None:
        raise errors.NotFound(f"user {username!r} not found")
    return found


@router.get("/users", response_model=Page[UserOut])
def list_users(cfg: Config, principal: AsAdmin, paging: PagingParams) -> Page[UserOut]:
    """Users by name."""
    with cfg.read() as session:
        found, total = users.list_page(session, limit=paging.limit, offset=paging.offset)
    return Page.of([UserOut.of(u) for u in found], total, paging)


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={409: {"model": errors.ErrorOut, "description": "The user exists"}},
)
def create_user(body: UserCreate, cfg: Config, principal: AsAdmin) -> UserOut:
    try:
        with cfg.write() as session:
            user = users.create(session, body.username, body.password, body.role, body.teams)
    except users.UserExists as e:
        raise errors.Conflict(str(e)) from e
    except exceptions.InvalidValue as e:
        raise errors.Invalid(str(e)) from e
    return UserOut.of(user)


@router.get(
    "/users/{username}",
    response_model=UserOut,
    responses={404: {"model": errors.ErrorOut, "description": "No such user"}},
)
def get_user(username: Username, cfg: Config, principal: AsAdmin) -> UserOut:
    with cfg.read() as session:
        return UserOut.of(_user(session, username))


@router.patch(
    "/users/{username}",
    response_model=UserOut,
    responses={404: {"model": errors.ErrorOut, "description": "No such user"}},
)
def patch_user(username: Username, body: UserPatch, cfg: Config, principal: AsAdmin) -> UserOut:
    """Change the role, teams, active flag or password of a user (absent fields are kept)."""
    try:
        with cfg.write() as session:
            found = users.update(
                session,
                _user(session, username).id,
                role=body.role,
                teams=body.teams,
                is_active=body.is_active,
                password=body.password,
            )
    except exceptions.InvalidValue as e:
        raise errors.Invalid(str(e)) from e
    if found is None:
        raise errors.NotFound(f"user {username!r} not found")
    return UserOut.of(found)


@router.delete(
    "/users/{username}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses={404: {"model": errors.ErrorOut, "description": "No such user"}},
)
def delete_user(username: Username, cfg: Config, principal: AsAdmin) -> None:
    """Delete a user; their tokens go with them."""
    with cfg.write() as session:
        if not users.delete(session, _user(session, username).id):
            raise errors.NotFound(f"user {username!r} not found")


@router.get(
    "/users/{username}/tokens",
    response_model=list[TokenInfo],
    responses={404: {"model": errors.ErrorOut, "description": "No such user"}},
)
def list_tokens(username: Username, cfg: Config, principal: AsAdmin) -> list[TokenInfo]:
    """The user's tokens (logins, API tokens, UI sessions), oldest first, without secrets."""
    with cfg.read() as session:
        return [TokenInfo.of(t) for t in tokens.of_user(session, _user(session, username).id)]


@router.post(
    "/users/{username}/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=NewToken,
    responses={404: {"model": errors.ErrorOut, "description": "No such user"}},
)
def create_token(
    username: Username, body: TokenCreate, cfg: Config, principal: AsAdmin
) -> NewToken:
    """A long-lived API token of the user (as ``gnomon tokens create``)."""
    expires_at = utcnow() + timedelta(days=body.expires_days) if body.expires_days else None
    with cfg.write() as session:
        user = _user(session, username)
        secret, token = tokens.issue(
            session, user.id, TokenKind.API, expires_at=expires_at, name=body.name
        )
    return NewToken(id=token.id, access_token=secret, expires_at=token.expires_at)


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses={404: {"model": errors.ErrorOut, "description": "No such token, or revoked already"}},
)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**63 - 1)], cfg: Config, principal: AsViewer
) -> None:
    """Revoke a token: an admin any token, anyone else only their own (others' are 404)."""
    with cfg.write() as session:
        token = tokens.get(session, token_id)
        mine = token is not None and token.user_id == principal.user_id
        if token is None or not (principal.is_admin or mine):
            raise errors.NotFound(f"token {token_id} not found")
        if not tokens.revoke(session, token_id, utcnow()):
            raise errors.NotFound(f"token {token_id} not found, or revoked already")
