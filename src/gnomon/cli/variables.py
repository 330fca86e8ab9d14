"""``gnomon variables ...``: set, read, list and delete variables (values encrypted at rest)."""

from __future__ import annotations

import click

from gnomon.cli import database, output
from gnomon.cli.common import NEGATIVE_ARGUMENTS, CliError, load_settings, output_option
from gnomon.store import variables as store_variables


@click.group()
def variables() -> None:
    """Set, read, list and delete variables (values are encrypted in the database)."""


@variables.command("set", context_settings=NEGATIVE_ARGUMENTS)
@click.argument("key")
@click.argument("value")
@click.option("--description", default=None, help="What the variable is for [default: unchanged].")
def set_variable(key: str, value: str, description: str | None) -> None:
    """Set variable KEY to VALUE, creating it or replacing its value."""
    settings = load_settings()
    with database.transaction(settings) as session:
        if (
            description is None
            and (existing := store_variables.get_summary(session, key)) is not None
        ):
            description = existing.description
        cipher = database.cipher(settings)
        store_variables.upsert(session, cipher, key, value, description or None)
    click.echo(f"Variable {key!r} set.")


@variables.command("get")
@click.argument("key")
@output_option()
def get_variable(key: str, output_format: str) -> None:
    """Print the value of variable KEY."""
    settings = load_settings()
    with database.transaction(settings, read_only=True) as session:
        # Looked up first so that an unknown key does not create the key file.
        found = store_variables.get_summary(session, key) is not None
        variable = store_variables.get(session, database.cipher(settings), key) if found else None
    if variable is None:
        raise _not_found(key)
    if output_format == "json":
        output.echo_json(
            {"key": variable.key, "value": variable.value, "description": variable.description}
        )
    else:
        click.echo(variable.value)


@variables.command("list")
@output_option()
def list_variables(output_format: str) -> None:
    """List the variables' keys and descriptions (never their values)."""
    with database.transaction(load_settings(), read_only=True) as session:
        summaries = store_variables.list_all(session)
    if output_format == "json":
        output.echo_json([{"key": s.key, "description": s.description} for s in summaries])
    else:
        output.echo_table(["key", "description"], ((s.key, s.description) for s in summaries))


@variables.command("delete")
@click.argument("key")
def delete_variable(key: str) -> None:
    """Delete variable KEY."""
    with database.transaction(load_settings()) as session:
        if not store_variables.delete(session, key):
            raise _not_found(key)
    click.echo(f"Deleted variable {key!r}.")


def _not_found(key: str) -> CliError:
    return CliError(f"variable {key!r} does not exist (see `gnomon variables list`)")
