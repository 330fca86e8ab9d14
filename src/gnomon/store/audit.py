"""The audit log: one entry per mutating request (who, what, when, and how it ended)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gnomon.store import models


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    created_at: datetime
    username: str | None
    action: str
    method: str
    path: str
    status_code: int
    dag_id: str | None
    details: dict[str, Any]
    remote_addr: str | None

    @classmethod
    def from_row(cls, row: models.AuditEntry) -> Entry:
        return cls(
            row.id,
            row.created_at,
            row.username,
            row.action,
            row.method,
            row.path,
            row.status_code,
            row.dag_id,
            dict(row.details),
            row.remote_addr,
        )


def record(
    session: Session,
    *,
    username: str | None,
    action: str,
    method: str,
    path: str,
    status_code: int,
    dag_id: str | None = None,
    details: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> None:
    session.add(
        models.AuditEntry(
            username=username,
            action=action,
            method=method,
            path=path[: models.PATH_LEN],
            status_code=status_code,
            dag_id=dag_id,
            details=details or {},
            remote_addr=remote_addr,
        )
    )


def page(
    session: Session, *, limit: int, offset: int, username: str | None = None
) -> tuple[list[Entry], int]:
    """Entries newest first, and how many there are (of ``username`` if given)."""
    query = select(models.AuditEntry)
    count = select(func.count()).select_from(models.AuditEntry)
    if username is not None:
        query = query.where(models.AuditEntry.username == username)
        count = count.where(models.AuditEntry.username == username)
    rows = session.scalars(query.order_by(models.AuditEntry.id.desc()).limit(limit).offset(offset))
    return [Entry.from_row(r) for r in rows], session.scalar(count) or 0
