"""UI sessions: who is signed in (from the session cookie), the cookies the login sets, and
where a login may send the browser next."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Request, Response

from gnomon import access
from gnomon.api import deps
from gnomon.api.config import ApiConfig
from gnomon.store import tokens
from gnomon.store.columns import utcnow
from gnomon.store.models import TokenKind

#: Double-submit cookie of the login form: there is no session to derive its CSRF token from
#: yet, so the form's hidden field must echo this cookie's random value.
LOGIN_CSRF_COOKIE = "gnomon_login_csrf"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The user of a valid UI session, and the session's CSRF token."""

    user: access.Principal
    csrf: str


def current(config: ApiConfig, request: Request) -> SignedIn | None:
    """The signed-in user, or None if the session cookie is missing, expired or revoked."""
    secret = request.cookies.get(access.SESSION_COOKIE)
    if not secret:
        return None
    user = deps.principal_of(config, secret, (TokenKind.SESSION,))
    return None if user is None else SignedIn(user, access.csrf_token(secret))


def log_in(config: ApiConfig, username: str, password: str) -> str | None:
    """A new session's secret if the credentials are right, else None."""
    with config.write() as session:
        issued = tokens.log_in(
            session,
            username,
            password,
            TokenKind.SESSION,
            now=utcnow(),
            lifetime=config.session_lifetime,
        )
    return None if issued is None else issued[0]


def log_out(config: ApiConfig, token_id: int) -> None:
    with config.write() as session:
        tokens.revoke(session, token_id, utcnow())


def set_session(response: Response, config: ApiConfig, secret: str) -> None:
    response.set_cookie(
        access.SESSION_COOKIE,
        secret,
        max_age=int(config.session_lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=config.secure_cookies,
    )


def clear_session(response: Response, config: ApiConfig) -> None:
    response.delete_cookie(
        access.SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=config.secure_cookies,
    )


def login_csrf(request: Request) -> str:
    """The login form's CSRF value: the browser's current one, or a new one."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_login_csrf(response: Response, config: ApiConfig, value: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        value,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=config.secure_cookies,
    )


def login_csrf_matches(request: Request, sent: str) -> bool:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(expected) and hmac.compare_digest(expected, sent)


def session_csrf_matches(request: Request, sent: str) -> bool:
    secret = request.cookies.get(access.SESSION_COOKIE, "")
    return bool(secret) and hmac.compare_digest(access.csrf_token(secret), sent)


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this server, else ``/`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\\"):
        return "/"
    return target


def login_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(here, safe="")
