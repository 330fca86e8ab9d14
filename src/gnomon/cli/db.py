"""``gnomon db ...``: create or upgrade the metadata database, and check that it is current."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Engine

from gnomon import settings as settings_module
from gnomon.cli import output
from gnomon.cli.common import CliError, load_settings, output_option
from gnomon.store import db as store_db
from gnomon.store import exceptions, schema


@click.group()
def db() -> None:
    """Create, upgrade and check the metadata database (GNOMON_DB_URL)."""


@contextmanager
def _engine(settings: settings_module.Settings) -> Iterator[tuple[str, Engine]]:
    """The database of the settings (its URL without password) and an engine on it."""
    url = settings.database_url()
    try:
        engine = store_db.make_engine(url)
    except exceptions.StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        yield store_db.safe_url(url), engine
    except exceptions.StoreError as exc:
        raise CliError(str(exc)) from None
    finally:
        engine.dispose()


def _revision(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) or "none"


@db.command()
@output_option()
def migrate(output_format: str) -> None:
    """Create the database, or upgrade it to this version's schema (a no-op if current)."""
    settings = load_settings()
    if settings.db_url is None:
        # The default database lives in GNOMON_HOME, which a first migrate may have to create.
        settings.home.mkdir(parents=True, exist_ok=True)
    with _engine(settings) as (url, engine):
        result = schema.migrate(engine)
    if output_format == "json":
        output.echo_json(
            {
                "url": url,
                "before": list(result.before),
                "after": list(result.after),
                "changed": result.changed,
            }
        )
        return
    click.echo(f"Database: {url}")
    if result.changed:
        click.echo(f"Migrated from {_revision(result.before)} to {_revision(result.after)}.")
    else:
        click.echo(f"Already at {_revision(result.after)}; nothing to do.")


@db.command()
def check() -> None:
    """Exit 0 if the database matches this version of Gnomon, else 1 listing the differences."""
    with _engine(load_settings()) as (url, engine):
        problems = schema.check(engine)
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise CliError(f"the database {url} is not up to date:\n{lines}")
    click.echo(f"Database {url} is up to date.")
