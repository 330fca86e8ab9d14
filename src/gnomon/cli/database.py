"""The metadata database and secret key for commands that read or write rows.

Such commands need a database that ``gnomon db migrate`` created and brought up to date; they
never migrate it themselves, so that a typo in ``GNOMON_DB_URL`` or ``GNOMON_HOME`` is reported
instead of silently creating a new, empty database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gnomon import settings as settings_module
from gnomon.cli.common import CliError, CliUsageError
from gnomon.executors import tokens
from gnomon.store import db as store_db
from gnomon.store import exceptions, schema, secrets

#: The Fernet key encrypting variables and connection secrets; else the key file in home.
SECRET_KEY_ENV = "GNOMON_SECRET_KEY"
KEY_FILE_NAME = "secret.key"


@contextmanager
def engine(
    settings: settings_module.Settings, *, pre_ping: bool = True, pool_size: int | None = None
) -> Iterator[Engine]:
    """An engine on the migrated metadata database (``store.db.make_engine``'s options),
    disposed at the end. Store errors become ``Error: ...`` messages: invalid values exit 2,
    anything else (unreachable, not migrated, locked) exits 1."""
    try:
        made = store_db.make_engine(settings.database_url(), pre_ping=pre_ping, pool_size=pool_size)
    except exceptions.StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        _require_migrated(made)
        yield made
    except exceptions.InvalidValue as exc:
        raise CliUsageError(str(exc)) from None
    except exceptions.StoreError as exc:
        raise CliError(str(exc)) from None
    finally:
        made.dispose()


@contextmanager
def transaction(
    settings: settings_module.Settings, *, read_only: bool = False
) -> Iterator[Session]:
    """A session in one transaction on the migrated metadata database, committed at the end.

    If the block raises, nothing is committed. Errors as for ``engine``.
    """
    with (
        engine(settings) as made,
        store_db.session_factory(made, read_only=read_only).begin() as session,
    ):
        yield session


@contextmanager
def reader(settings: settings_module.Settings) -> Iterator[sessionmaker[Session]]:
    """Read-only sessions on one engine, for commands that poll (``runs wait``, ``--follow``):
    one connection pool for the whole wait, not one per look."""
    with engine(settings) as made:
        yield store_db.session_factory(made, read_only=True)


def cipher(settings: settings_module.Settings) -> secrets.Cipher:
    """The cipher of ``GNOMON_SECRET_KEY``, else of ``$GNOMON_HOME/secret.key`` (made once)."""
    return secrets.Cipher.from_keys(_secret_key(settings))


def execution_key(settings: settings_module.Settings) -> bytes:
    """The key execution API tokens are signed with, derived from the same secret key as
    ``cipher``: the scheduler that issues start tokens and the API that checks them share it
    without another secret to distribute."""
    return tokens.derive_key(_secret_key(settings))


def _secret_key(settings: settings_module.Settings) -> bytes:
    explicit = os.environ.get(SECRET_KEY_ENV, "").strip()
    try:
        return secrets.resolve_key(explicit or None, settings.home / KEY_FILE_NAME)
    except exceptions.SecretKeyError as exc:
        where = f"{SECRET_KEY_ENV}: " if explicit else ""
        raise CliUsageError(f"{where}{exc}") from None


def _require_migrated(engine: Engine) -> None:
    url = store_db.safe_url(engine.url)
    hint = "run `gnomon db migrate` first"
    database = engine.url.database
    # Connecting would create a missing SQLite file: say so instead, and write nothing.
    if engine.dialect.name == "sqlite" and database and not Path(database).exists():
        raise CliError(f"the metadata database {url} does not exist: {hint}, to create it")
    try:
        schema.require_current(engine)
    except exceptions.SchemaNotCurrent:
        raise CliError(
            f"the metadata database {url} is not migrated to this version of Gnomon: "
            f"{hint} (`gnomon db check` lists the differences)"
        ) from None
