"""Import errors: the error that importing a DAG file raised, at most one per file."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from gnomon.store import models, sql
from gnomon.store.columns import utcnow


@dataclass(frozen=True, slots=True)
class ParseImportError:
    fileloc: str
    error: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: models.ParseImportError) -> ParseImportError:
        return cls(row.fileloc, row.error, row.created_at)


def record(session: Session, fileloc: str, error: str) -> None:
    """Set the file's error, replacing any earlier one (its time becomes now)."""
    values = {"fileloc": fileloc, "error": error, "created_at": utcnow()}
    sql.upsert(session, models.ParseImportError, values, key=["fileloc"])


def clear(session: Session, fileloc: str) -> bool:
    """Forget the file's error (it imported cleanly); False if it had none."""
    return sql.delete_one(session, models.ParseImportError.fileloc, fileloc)


def retain_only(session: Session, filelocs: Collection[str]) -> list[str]:
    """Forget the errors of files not in ``filelocs`` (deleted files); the ones forgotten."""
    keep = set(filelocs)
    stored = session.scalars(select(models.ParseImportError.fileloc)).all()
    gone = sorted(f for f in stored if f not in keep)
    for chunk in sql.chunks(gone):
        session.execute(
            sql_delete(models.ParseImportError).where(models.ParseImportError.fileloc.in_(chunk))
        )
    return gone


def get(session: Session, fileloc: str) -> ParseImportError | None:
    row = session.scalar(
        select(models.ParseImportError).where(models.ParseImportError.fileloc == fileloc)
    )
    return None if row is None else ParseImportError.from_row(row)


def list_all(session: Session) -> list[ParseImportError]:
    rows = session.scalars(
        select(models.ParseImportError).order_by(models.ParseImportError.fileloc)
    )
    return [ParseImportError.from_row(row) for row in rows]
