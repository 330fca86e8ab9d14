"""Connections (op). Password and extra are write-only: responses only say whether they are
set (``has_password``, ``has_extra``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from gnomon.api import errors
from gnomon.api.deps import AsOp, Config
from gnomon.api.pagination import Page, PagingParams
from gnomon.store import connections, exceptions, models

router = APIRouter(prefix="/connections", tags=["connections"], responses=errors.RESPONSES)

ConnId = Annotated[str, Path(min_length=1, max_length=models.ID_LEN)]


class ConnectionOut(BaseModel):
    conn_id: str
    conn_type: str
    host: str | None
    schema_: str | None = Field(alias="schema")
    login: str | None
    port: int | None
    description: str | None
    has_password: bool
    has_extra: bool

    @classmethod
    def of(cls, listing: connections.ConnectionListing) -> ConnectionOut:
        s = listing.summary
        return cls(
            conn_id=s.conn_id,
            conn_type=s.conn_type,
            host=s.host,
            schema=s.schema,
            login=s.login,
            port=s.port,
            description=s.description,
            has_password=listing.has_password,
            has_extra=listing.has_extra,
        )


class ConnectionBody(BaseModel):
    conn_type: str = Field(min_length=1, max_length=500)
    host: str | None = Field(default=None, max_length=500)
    schema_: str | None = Field(default=None, alias="schema", max_length=500)
    login: str | None = Field(default=None, max_length=10_000)
    port: int | None = Field(default=None, ge=0, le=65535)
    password: str | None = Field(default=None, max_length=10_000)
    extra: dict[str, Any] = Field(default_factory=dict)
    description: str | None = Field(default=None, max_length=10_000)


def _listing(cfg: Config, conn_id: str) -> connections.ConnectionListing:
    with cfg.read() as session:
        found = connections.get_listing(session, conn_id)
    if found is None:
        raise errors.NotFound(f"connection {conn_id!r} not found")
    return found


@router.get("", response_model=Page[ConnectionOut], response_model_by_alias=True)
def list_connections(cfg: Config, principal: AsOp, paging: PagingParams) -> Page[ConnectionOut]:
    """Connections by conn_id, without their password and extra."""
    with cfg.read() as session:
        found = connections.list_with_secret_flags(session)
    items = [ConnectionOut.of(c) for c in found[paging.offset : paging.offset + paging.limit]]
    return Page.of(items, len(found), paging)


@router.get(
    "/{conn_id}",
    response_model=ConnectionOut,
    responses={404: {"model": errors.ErrorOut, "description": "No such connection"}},
)
def get_connection(conn_id: ConnId, cfg: Config, principal: AsOp) -> ConnectionOut:
    return ConnectionOut.of(_listing(cfg, conn_id))


@router.put("/{conn_id}", response_model=ConnectionOut)
def put_connection(
    conn_id: ConnId, body: ConnectionBody, cfg: Config, principal: AsOp
) -> ConnectionOut:
    """Create the connection, or replace all of its fields (secrets included)."""
    connection = connections.Connection(
        conn_id=conn_id,
        conn_type=body.conn_type,
        host=body.host,
        schema=body.schema_,
        login=body.login,
        port=body.port,
        password=body.password,
        extra=body.extra,
        description=body.description,
    )
    try:
        with cfg.write() as session:
            connections.upsert(session, cfg.cipher, connection)
    except exceptions.InvalidValue as e:
        raise errors.Invalid(str(e)) from e
    return ConnectionOut.of(_listing(cfg, conn_id))


@router.delete(
    "/{conn_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses={404: {"model": errors.ErrorOut, "description": "No such connection"}},
)
def delete_connection(conn_id: ConnId, cfg: Config, principal: AsOp) -> None:
    with cfg.write() as session:
        deleted = connections.delete(session, conn_id)
    if not deleted:
        raise errors.NotFound(f"connection {conn_id!r} not found")
