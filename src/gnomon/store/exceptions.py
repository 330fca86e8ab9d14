"""Errors of the metadata store: each names the database (never its password) and the fix."""

from __future__ import annotations

from gnomon.exceptions import GnomonError


class StoreError(GnomonError):
    """Base class of the metadata store's errors."""


class UnsupportedDatabase(StoreError):
    """The URL names a database Gnomon cannot use (scheme, in-memory SQLite, old SQLite)."""


class DatabaseUnavailable(StoreError):
    """The metadata database cannot be reached (server down, wrong host, missing directory)."""

    def __init__(self, url: str, reason: str, hint: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach the metadata database {url}: {reason}. {hint}")


class DatabaseLocked(StoreError):
    """A lock on the metadata database was not granted in time."""

    def __init__(self, url: str, reason: str, hint: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"the metadata database {url} is locked: {reason}. {hint}")


class SchemaNotCurrent(StoreError):
    """The database schema is not at the revision this version of Gnomon needs."""


class SecretKeyError(StoreError):
    """A secret key is malformed, or a stored secret cannot be decrypted with the keys given."""


class InvalidValue(StoreError, ValueError):
    """A value written to the store is out of range (the message names the field)."""


class UnknownField(StoreError, TypeError):
    """A transition names a column its table does not have."""
