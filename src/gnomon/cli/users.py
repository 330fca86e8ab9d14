"""``gnomon users ...`` and ``gnomon tokens ...``: accounts and API tokens (admin tasks)."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import click

from gnomon.cli import database, output
from gnomon.cli.common import CliError, CliUsageError, load_settings, output_option
from gnomon.store import exceptions, tokens
from gnomon.store import users as store_users
from gnomon.store.columns import utcnow
from gnomon.store.models import Role, TokenKind

ROLE_CHOICE = click.Choice([r.value for r in Role])


@click.group()
def users() -> None:
    """Create, list and delete users (roles: viewer, user, op, admin)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise CliUsageError("the password is empty")
    return password


@users.command("create")
@click.option("--username", required=True, help="The login name.")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the user may do.")
@click.option("--team", "teams", multiple=True, help="A team whose DAGs the user sees (repeat).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
def create_user(username: str, role: str, teams: tuple[str, ...], password_stdin: bool) -> None:
    """Create a user (the password is asked for, or read from stdin)."""
    password = _read_password(password_stdin)
    with database.transaction(load_settings()) as session:
        try:
            store_users.create(session, username, password, Role(role), teams)
        except store_users.UserExists as exc:
            raise CliError(str(exc)) from None
        except exceptions.InvalidValue as exc:
            raise CliUsageError(str(exc)) from None
    click.echo(f"User {username!r} created with role {role!r}.")


@users.command("list")
@output_option()
def list_users(output_format: str) -> None:
    """List the users."""
    with database.transaction(load_settings(), read_only=True) as session:
        found, _ = store_users.list_page(session, limit=1_000_000, offset=0)
    rows: list[dict[str, Any]] = [
        {
            "username": u.username,
            "role": u.role.value,
            "teams": list(u.teams),
            "is_active": u.is_active,
            "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
        }
        for u in found
    ]
    if output_format == "json":
        output.echo_json(rows)
        return
    output.echo_table(
        ["username", "role", "teams", "active", "last login"],
        (
            (r["username"], r["role"], ",".join(r["teams"]), r["is_active"], r["last_login_at"])
            for r in rows
        ),
    )


@users.command("delete")
@click.argument("username")
def delete_user(username: str) -> None:
    """Delete a user and revoke their tokens."""
    with database.transaction(load_settings()) as session:
        user = store_users.get_by_name(session, username)
        if user is None or not store_users.delete(session, user.id):
            raise CliError(f"no user named {username!r}")
    click.echo(f"User {username!r} deleted.")


@click.group("tokens")
def tokens_group() -> None:
    """Create and revoke long-lived API tokens."""


@tokens_group.command("create")
@click.option("--username", required=True, help="The user the token acts as.")
@click.option(
    "--expires",
    type=click.IntRange(min=1),
    default=None,
    help="Days until the token expires [default: never].",
)
@click.option("--name", default=None, help="What the token is for (shown in listings).")
@output_option()
def create_token(username: str, expires: int | None, name: str | None, output_format: str) -> None:
    """Create an API token for USERNAME and print it (it is shown only this once)."""
    expires_at = utcnow() + timedelta(days=expires) if expires else None
    with database.transaction(load_settings()) as session:
        user = store_users.get_by_name(session, username)
        if user is None:
            raise CliError(f"no user named {username!r} (see `gnomon users list`)")
        secret, token = tokens.issue(
            session, user.id, TokenKind.API, expires_at=expires_at, name=name
        )
    if output_format == "json":
        output.echo_json(
            {
                "id": token.id,
                "access_token": secret,
                "token_type": "bearer",
                "expires_at": expires_at.isoformat() if expires_at else None,
            }
        )
    else:
        click.echo(secret)


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke the token with id TOKEN_ID (see `gnomon tokens create --output json`)."""
    with database.transaction(load_settings()) as session:
        if not tokens.revoke(session, token_id, utcnow()):
            raise CliError(f"no live token with id {token_id}")
    click.echo(f"Token {token_id} revoked.")
