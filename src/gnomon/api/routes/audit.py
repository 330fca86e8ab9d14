"""``GET /audit`` (admin): the audit log, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from gnomon.api import errors
from gnomon.api.deps import AsAdmin, Config
from gnomon.api.pagination import Page, PagingParams
from gnomon.store import audit, models

router = APIRouter(prefix="/audit", tags=["audit"], responses=errors.RESPONSES)


class AuditEntryOut(BaseModel):
    id: int
    created_at: datetime
    #: None when the request named no user (no or a bad token).
    username: str | None
    #: The endpoint's name (e.g. ``patch_dag``), else the path.
    action: str
    method: str
    path: str
    status_code: int
    dag_id: str | None
    details: dict[str, Any]
    remote_addr: str | None


@router.get("", response_model=Page[AuditEntryOut])
def list_audit(
    cfg: Config,
    principal: AsAdmin,
    paging: PagingParams,
    username: Annotated[
        str | None, Query(max_length=models.ID_LEN, description="Only this user's requests.")
    ] = None,
) -> Page[AuditEntryOut]:
    """Every mutating request, newest first."""
    with cfg.read() as session:
        found, total = audit.page(
            session, limit=paging.limit, offset=paging.offset, username=username
        )
    items = [
        AuditEntryOut(
            id=e.id,
            created_at=e.created_at,
            username=e.username,
            action=e.action,
            method=e.method,
            path=e.path,
            status_code=e.status_code,
            dag_id=e.dag_id,
            details=e.details,
            remote_addr=e.remote_addr,
        )
        for e in found
    ]
    return Page.of(items, total, paging)
