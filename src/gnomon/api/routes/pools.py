"""Pools: list with their used and open slots, get, create or replace, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from gnomon.api import errors
from gnomon.api.deps import AsOp, AsViewer, Config
from gnomon.api.pagination import Page, PagingParams
from gnomon.store import exceptions, models, pools

router = APIRouter(prefix="/pools", tags=["pools"], responses=errors.RESPONSES)

PoolName = Annotated[str, Path(min_length=1, max_length=models.POOL_LEN)]


class PoolOut(BaseModel):
    name: str
    #: -1: unlimited.
    slots: int
    description: str | None
    used_slots: int
    #: None when the pool is unlimited.
    open_slots: int | None

    @classmethod
    def of(cls, usage: pools.PoolUsage) -> PoolOut:
        return cls(
            name=usage.pool.name,
            slots=usage.pool.slots,
            description=usage.pool.description,
            used_slots=usage.used_slots,
            open_slots=usage.open_slots,
        )


class PoolBody(BaseModel):
    slots: int = Field(ge=pools.UNLIMITED, le=2**31 - 1, description="-1 for unlimited.")
    description: str | None = Field(default=None, max_length=10_000)


def _usage(cfg: Config, name: str) -> pools.PoolUsage:
    with cfg.read() as session:
        pool = pools.get(session, name)
        if pool is None:
            raise errors.NotFound(f"pool {name!r} not found")
        return pools.PoolUsage(pool, pools.used_slots(session).get(name, 0))


@router.get("", response_model=Page[PoolOut])
def list_pools(cfg: Config, principal: AsViewer, paging: PagingParams) -> Page[PoolOut]:
    """Pools by name, with the slots their queued and running task instances hold."""
    with cfg.read() as session:
        found = pools.list_with_usage(session)
    items = [PoolOut.of(u) for u in found[paging.offset : paging.offset + paging.limit]]
    return Page.of(items, len(found), paging)


@router.get(
    "/{name}",
    response_model=PoolOut,
    responses={404: {"model": errors.ErrorOut, "description": "No such pool"}},
)
def get_pool(name: PoolName, cfg: Config, principal: AsViewer) -> PoolOut:
    return PoolOut.of(_usage(cfg, name))


@router.put("/{name}", response_model=PoolOut)
def put_pool(name: PoolName, body: PoolBody, cfg: Config, principal: AsOp) -> PoolOut:
    """Create the pool, or replace its slots and description."""
    try:
        with cfg.write() as session:
            pools.upsert(session, name, body.slots, body.description)
    except exceptions.InvalidValue as e:
        raise errors.Invalid(str(e)) from e
    return PoolOut.of(_usage(cfg, name))


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses={
        404: {"model": errors.ErrorOut, "description": "No such pool"},
        409: {"model": errors.ErrorOut, "description": "The default pool"},
    },
)
def delete_pool(name: PoolName, cfg: Config, principal: AsOp) -> None:
    """Delete the pool (not ``default_pool``: tasks without a pool use it)."""
    try:
        with cfg.write() as session:
            deleted = pools.delete(session, name)
    except exceptions.InvalidValue as e:
        raise errors.Conflict(str(e)) from e
    if not deleted:
        raise errors.NotFound(f"pool {name!r} not found")
