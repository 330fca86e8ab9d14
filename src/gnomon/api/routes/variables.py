"""Variables (op): listings show keys and descriptions; only ``GET /variables/{key}`` shows a
value (values are encrypted at rest and may be sensitive)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from gnomon.api import errors
from gnomon.api.deps import AsOp, Config
from gnomon.api.pagination import Page, PagingParams
from gnomon.store import exceptions, models, variables

router = APIRouter(prefix="/variables", tags=["variables"], responses=errors.RESPONSES)

VariableKey = Annotated[str, Path(min_length=1, max_length=models.ID_LEN)]


class VariableSummaryOut(BaseModel):
    key: str
    description: str | None


class VariableOut(VariableSummaryOut):
    value: str


class VariableBody(BaseModel):
    value: str = Field(max_length=1_000_000)
    description: str | None = Field(default=None, max_length=10_000)


@router.get("", response_model=Page[VariableSummaryOut])
def list_variables(cfg: Config, principal: AsOp, paging: PagingParams) -> Page[VariableSummaryOut]:
    """Variables by key, without their values."""
    with cfg.read() as session:
        found = variables.list_all(session)
    items = [
        VariableSummaryOut(key=v.key, description=v.description)
        for v in found[paging.offset : paging.offset + paging.limit]
    ]
    return Page.of(items, len(found), paging)


@router.get(
    "/{key}",
    response_model=VariableOut,
    responses={404: {"model": errors.ErrorOut, "description": "No such variable"}},
)
def get_variable(key: VariableKey, cfg: Config, principal: AsOp) -> VariableOut:
    """The variable with its (decrypted) value."""
    with cfg.read() as session:
        found = variables.get(session, cfg.cipher, key)
    if found is None:
        raise errors.NotFound(f"variable {key!r} not found")
    return VariableOut(key=found.key, value=found.value, description=found.description)


@router.put("/{key}", response_model=VariableSummaryOut)
def put_variable(
    key: VariableKey, body: VariableBody, cfg: Config, principal: AsOp
) -> VariableSummaryOut:
    """Create the variable, or replace its value and description. The value is not echoed."""
    try:
        with cfg.write() as session:
            variables.upsert(session, cfg.cipher, key, body.value, body.description)
    except exceptions.InvalidValue as e:
        raise errors.Invalid(str(e)) from e
    return VariableSummaryOut(key=key, description=body.description)


@router.delete(
    "/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses={404: {"model": errors.ErrorOut, "description": "No such variable"}},
)
def delete_variable(key: VariableKey, cfg: Config, principal: AsOp) -> None:
    with cfg.write() as session:
        deleted = variables.delete(session, key)
    if not deleted:
        raise errors.NotFound(f"variable {key!r} not found")
