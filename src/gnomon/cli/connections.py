"""``gnomon connections ...``: add, list and delete connections (secrets encrypted at rest)."""

from __future__ import annotations

import json
from typing import Any

import click

from gnomon.cli import database, output
from gnomon.cli.common import CliError, CliUsageError, load_settings, output_option
from gnomon.store import connections as store_connections
from gnomon.store import exceptions


@click.group()
def connections() -> None:
    """Add, list and delete connections (passwords and extras are encrypted in the database)."""


@connections.command("add")
@click.argument("conn_id")
@click.option("--conn-type", help="The connection type (postgres, http, ...).")
@click.option(
    "--conn-uri",
    help="Every field in one URI instead: TYPE://LOGIN:PASSWORD@HOST:PORT/SCHEMA?EXTRA=VALUE.",
)
@click.option("--host")
@click.option("--schema")
@click.option("--login")
@click.option("--password")
@click.option("--port", type=click.IntRange(0, 65535))
@click.option("--extra", help="A JSON object of extra settings.")
@click.option("--description")
@click.option("--replace", is_flag=True, help="Overwrite the connection if CONN_ID exists.")
def add_connection(
    conn_id: str,
    conn_uri: str | None,
    extra: str | None,
    description: str | None,
    replace: bool,
    **fields: Any,
) -> None:
    """Add connection CONN_ID, from --conn-type and the other options, or from --conn-uri."""
    connection = _connection(conn_id, conn_uri, extra, description, fields)
    settings = load_settings()
    with database.transaction(settings) as session:
        cipher = database.cipher(settings)
        if replace:
            store_connections.upsert(session, cipher, connection)
        elif not store_connections.add(session, cipher, connection):
            raise CliError(f"connection {conn_id!r} already exists: pass --replace to overwrite it")
    click.echo(f"Connection {conn_id!r} {'saved' if replace else 'added'}.")


@connections.command("list")
@output_option()
def list_connections(output_format: str) -> None:
    """List the connections, showing whether each has a password and extra (never them)."""
    with database.transaction(load_settings(), read_only=True) as session:
        listings = store_connections.list_with_secret_flags(session)
    if output_format == "json":
        output.echo_json([_summary(listing) for listing in listings])
        return
    output.echo_table(
        ["conn_id", "type", "host", "port", "schema", "login", "password", "extra", "description"],
        (
            (
                c.summary.conn_id,
                c.summary.conn_type,
                c.summary.host,
                c.summary.port,
                c.summary.schema,
                c.summary.login,
                "set" if c.has_password else "",
                "set" if c.has_extra else "",
                c.summary.description,
            )
            for c in listings
        ),
    )


@connections.command("delete")
@click.argument("conn_id")
def delete_connection(conn_id: str) -> None:
    """Delete connection CONN_ID."""
    with database.transaction(load_settings()) as session:
        if not store_connections.delete(session, conn_id):
            raise CliError(f"connection {conn_id!r} does not exist (see `gnomon connections list`)")
    click.echo(f"Deleted connection {conn_id!r}.")


def _connection(
    conn_id: str,
    uri: str | None,
    extra: str | None,
    description: str | None,
    fields: dict[str, Any],
) -> store_connections.Connection:
    """The connection the options describe; bad options exit 2 (never echoing a secret).

    ``fields`` are the options named like ``Connection``'s fields: conn_type, host, schema,
    login, password, port.
    """
    if uri is not None:
        given = [name for name, value in fields.items() if value is not None]
        if extra is not None:
            given.append("extra")
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            raise CliUsageError(
                f"--conn-uri cannot be combined with {options}: give every field in the URI"
            )
        try:
            return store_connections.from_uri(conn_id, uri, description)
        except exceptions.InvalidValue as exc:
            raise CliUsageError(str(exc)) from None
    if not fields["conn_type"]:
        raise CliUsageError(f"connection {conn_id!r}: give --conn-type, or --conn-uri")
    return store_connections.Connection(
        conn_id=conn_id, extra=_extra(extra), description=description, **fields
    )


def _extra(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # The message gives the position, not the text, which may hold secrets.
        raise CliUsageError(f"--extra is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CliUsageError('--extra must be a JSON object, e.g. {"sslmode": "require"}')
    return value


def _summary(listing: store_connections.ConnectionListing) -> dict[str, Any]:
    summary = listing.summary
    return {
        "conn_id": summary.conn_id,
        "conn_type": summary.conn_type,
        "host": summary.host,
        "port": summary.port,
        "schema": summary.schema,
        "login": summary.login,
        "has_password": listing.has_password,
        "has_extra": listing.has_extra,
        "description": summary.description,
    }
