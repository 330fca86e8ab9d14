"""Users: argon2id password hashes, roles and teams."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import argon2
from sqlalchemy import exc, func, select
from sqlalchemy.orm import Session

from gnomon.store import exceptions, models
from gnomon.store.models import Role

_HASHER = argon2.PasswordHasher()
#: Verified against when the username is unknown, so that a wrong name takes as long as a
#: wrong password (no user enumeration by timing).
_DUMMY_HASH = _HASHER.hash("gnomon: no such user")

MIN_PASSWORD_LENGTH = 8


class UserExists(exceptions.StoreError):
    """A user of that name exists already."""


class InvalidPassword(exceptions.InvalidValue):
    """A new password is too weak."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: Role
    teams: tuple[str, ...]
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_row(cls, row: models.User) -> User:
        return cls(
            row.id,
            row.username,
            row.role,
            tuple(row.teams),
            row.is_active,
            row.created_at,
            row.last_login_at,
        )


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def create(
    session: Session, username: str, password: str, role: Role, teams: Collection[str] = ()
) -> User:
    """Add a user. Raises UserExists, InvalidPassword, or InvalidValue for a bad name."""
    name = username.strip()
    if not name or name != username or len(name) > models.ID_LEN:
        raise exceptions.InvalidValue(
            f"invalid username {username!r}: 1 to {models.ID_LEN} characters, no surrounding spaces"
        )
    row = models.User(
        username=name,
        password_hash=hash_password(password),
        role=role,
        teams=sorted(set(teams)),
        is_active=True,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except exc.IntegrityError:
        raise UserExists(f"a user named {username!r} exists already") from None
    return User.from_row(row)


def get(session: Session, user_id: int) -> User | None:
    row = session.get(models.User, user_id)
    return User.from_row(row) if row else None


def get_by_name(session: Session, username: str) -> User | None:
    row = session.scalar(select(models.User).where(models.User.username == username))
    return User.from_row(row) if row else None


def list_page(session: Session, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = session.scalar(select(func.count()).select_from(models.User)) or 0
    rows = session.scalars(
        select(models.User).order_by(models.User.username).limit(limit).offset(offset)
    )
    return [User.from_row(r) for r in rows], total


def authenticate(session: Session, username: str, password: str, now: datetime) -> User | None:
    """The active user with this name and password (recording the login), else None."""
    row = session.scalar(select(models.User).where(models.User.username == username))
    try:
        _HASHER.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return None
    if row is None or not row.is_active:
        return None
    if _HASHER.check_needs_rehash(row.password_hash):
        row.password_hash = _HASHER.hash(password)
    row.last_login_at = now
    return User.from_row(row)


def update(
    session: Session,
    user_id: int,
    *,
    role: Role | None = None,
    teams: Collection[str] | None = None,
    is_active: bool | None = None,
    password: str | None = None,
) -> User | None:
    row = session.get(models.User, user_id)
    if row is None:
        return None
    if role is not None:
        row.role = role
    if teams is not None:
        row.teams = sorted(set(teams))
    if is_active is not None:
        row.is_active = is_active
    if password is not None:
        row.password_hash = hash_password(password)
    session.flush()
    return User.from_row(row)


def delete(session: Session, user_id: int) -> bool:
    row = session.get(models.User, user_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
