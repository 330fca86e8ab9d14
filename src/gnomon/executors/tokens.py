"""Execution API tokens: each names one try, what it may do, and until when.

A token is ``gnx_<try id>.<scope>.<expiry>.<signature>``: HMAC-SHA256 over the first three
parts with a key derived from the deployment's secret key, which the scheduler (issuing
``start`` tokens with each workload) and the API (checking them, issuing ``run`` tokens) share.
Workers hold no key: they only carry tokens. Nothing is stored, so checking a token costs no
database read; a token for one try is refused on every other try's paths.

- ``start``: in the broker message; lets a worker claim the queued try (once) and read what it
  needs to load it. It lives as long as a try may wait in the queue.
- ``run``: returned by the start; heartbeats, XCom reads and the end report. Short-lived;
  each heartbeat returns a fresh one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Literal

PREFIX = "gnx_"
Scope = Literal["start", "run"]
SCOPES: tuple[Scope, ...] = ("start", "run")


class InvalidToken(Exception):
    """The token is malformed, forged, or expired; the message says which."""


@dataclass(frozen=True, slots=True)
class Claims:
    try_id: int
    scope: Scope
    expires_at: float


def derive_key(secret: str | bytes) -> bytes:
    """The signing key for execution tokens, derived from the deployment's secret key (so the
    secret itself never signs anything else's data)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, b"gnomon execution tokens v1", hashlib.sha256).digest()


def _sign(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(
    key: bytes, try_id: int, scope: Scope, lifetime: float, *, now: float | None = None
) -> str:
    """A token for ``try_id`` with ``scope``, valid for ``lifetime`` seconds from ``now``."""
    expires = int((time.time() if now is None else now) + lifetime)
    body = f"{try_id}.{scope}.{expires}"
    return f"{PREFIX}{body}.{_sign(key, body)}"


def verify(key: bytes, token: str, *, now: float | None = None) -> Claims:
    """The token's claims; InvalidToken if it is not one of ours, was altered, or expired."""
    if not token.startswith(PREFIX):
        raise InvalidToken("not an execution token")
    parts = token[len(PREFIX) :].split(".")
    if len(parts) != 4:
        raise InvalidToken("malformed execution token")
    try_part, scope, expires_part, signature = parts
    if not hmac.compare_digest(_sign(key, f"{try_part}.{scope}.{expires_part}"), signature):
        raise InvalidToken("execution token signature does not match")
    if scope not in SCOPES or not try_part.isdigit() or not expires_part.isdigit():
        raise InvalidToken("malformed execution token")
    expires_at = float(expires_part)
    if (time.time() if now is None else now) >= expires_at:
        raise InvalidToken("execution token expired")
    return Claims(int(try_part), scope, expires_at)
