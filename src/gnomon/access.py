"""Who may do what: roles, teams, and the request's principal. Pure; shared by the API, the UI
and the CLI.

Roles are ordered: ``viewer`` reads; ``user`` also triggers, clears, marks and pauses the DAGs
of their teams; ``op`` also manages pools, variables and connections; ``admin`` may do
everything, on every team's DAGs, and manages users and tokens.

Teams: a DAG belongs to at most one team. A non-admin sees the DAGs of their teams and the
DAGs that belong to no team; any other DAG does not exist for them (404, not 403, so its name
does not leak).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gnomon.store.models import Role

ORDER: tuple[Role, ...] = (Role.VIEWER, Role.USER, Role.OP, Role.ADMIN)

#: The UI's session cookie (HttpOnly, SameSite=Lax) and the header a cookie-authenticated
#: request must echo the CSRF token in when it changes something.
SESSION_COOKIE = "gnomon_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def at_least(role: Role, required: Role) -> bool:
    return ORDER.index(role) >= ORDER.index(required)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    user_id: int
    username: str
    role: Role
    teams: frozenset[str]
    token_id: int

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may(self, required: Role) -> bool:
        return at_least(self.role, required)

    @property
    def team_scope(self) -> frozenset[str] | None:
        """The teams whose DAGs this caller sees besides those of no team (None: all)."""
        return None if self.is_admin else self.teams

    def sees_team(self, team: str | None) -> bool:
        """Whether a DAG of ``team`` exists for this caller."""
        return self.is_admin or team is None or team in self.teams


def csrf_token(session_secret: str) -> str:
    """The CSRF token of a UI session: derived from the session's secret (which scripts of
    other origins cannot read: the cookie is HttpOnly and SameSite), so nothing more is
    stored."""
    return hashlib.sha256(f"gnomon-csrf:{session_secret}".encode()).hexdigest()
