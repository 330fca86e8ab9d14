"""Bearer tokens and UI sessions. The secret is shown once; only its SHA-256 is stored, so a
copy of the database grants nothing."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from gnomon.store import models, users
from gnomon.store.models import TokenKind

#: Every secret starts so, which makes leaked tokens easy to find (secret scanners, logs).
PREFIX = "gnm_"


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    user_id: int
    kind: TokenKind
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: models.ApiToken) -> Token:
        return cls(
            row.id,
            row.user_id,
            row.kind,
            row.name,
            row.created_at,
            row.expires_at,
            row.revoked_at,
        )


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(
    session: Session,
    user_id: int,
    kind: TokenKind,
    *,
    expires_at: datetime | None,
    name: str | None = None,
) -> tuple[str, Token]:
    """A new token of the user: its secret (shown once) and its record."""
    secret = PREFIX + secrets.token_urlsafe(32)
    row = models.ApiToken(
        user_id=user_id, token_hash=digest(secret), kind=kind, name=name, expires_at=expires_at
    )
    session.add(row)
    session.flush()
    return secret, Token.from_row(row)


def log_in(
    session: Session,
    username: str,
    password: str,
    kind: TokenKind,
    *,
    now: datetime,
    lifetime: timedelta,
) -> tuple[str, Token] | None:
    """A new token of ``kind`` living ``lifetime`` for the user if the password is right
    (recording the login), else None."""
    user = users.authenticate(session, username, password, now)
    if user is None:
        return None
    return issue(session, user.id, kind, expires_at=now + lifetime)


def resolve(
    session: Session, secret: str, kinds: tuple[TokenKind, ...], now: datetime
) -> tuple[Token, models.User] | None:
    """The live token with this secret (of one of ``kinds``) and its active user, else None."""
    if not secret.startswith(PREFIX):
        return None
    found = session.execute(
        select(models.ApiToken, models.User)
        .join(models.User, models.User.id == models.ApiToken.user_id)
        .where(
            models.ApiToken.token_hash == digest(secret),
            models.ApiToken.kind.in_(kinds),
            models.ApiToken.revoked_at.is_(None),
            or_(models.ApiToken.expires_at.is_(None), models.ApiToken.expires_at > now),
            models.User.is_active.is_(True),
        )
    ).first()
    if found is None:
        return None
    token, user = found
    return Token.from_row(token), user


def of_user(session: Session, user_id: int) -> list[Token]:
    rows = session.scalars(
        select(models.ApiToken)
        .where(models.ApiToken.user_id == user_id)
        .order_by(models.ApiToken.id)
    )
    return [Token.from_row(r) for r in rows]


def get(session: Session, token_id: int) -> Token | None:
    row = session.get(models.ApiToken, token_id)
    return Token.from_row(row) if row else None


def revoke(session: Session, token_id: int, now: datetime) -> bool:
    """Revoke a token (a logout, a leaked token). False if it was unknown or revoked."""
    result = session.execute(
        update(models.ApiToken)
        .where(models.ApiToken.id == token_id, models.ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(models.ApiToken.id)
    )
    return result.first() is not None


def purge_expired(session: Session, now: datetime) -> int:
    """Delete tokens that expired or were revoked (they can never be used again)."""
    result = session.execute(
        delete(models.ApiToken)
        .where(
            or_(
                models.ApiToken.expires_at <= now,
                models.ApiToken.revoked_at.is_not(None),
            )
        )
        .returning(models.ApiToken.id)
    )
    return len(result.all())
