"""Variables: named string values for DAGs, encrypted at rest (see ``store.secrets``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from gnomon.store import exceptions, models, sql
from gnomon.store.secrets import Cipher


@dataclass(frozen=True, slots=True)
class Variable:
    key: str
    value: str = field(repr=False)
    description: str | None = None


@dataclass(frozen=True, slots=True)
class VariableSummary:
    """What listings show: never the value."""

    key: str
    description: str | None = None


def get(session: Session, cipher: Cipher, key: str) -> Variable | None:
    row = session.get(models.Variable, key)
    if row is None:
        return None
    value = cipher.decrypt(row.value, what=f"variable {key!r}")
    return Variable(row.key, value, row.description)


def get_summary(session: Session, key: str) -> VariableSummary | None:
    """The variable's key and description, without decrypting its value."""
    query = select(models.Variable.description).where(models.Variable.key == key)
    row = session.execute(query).first()
    return None if row is None else VariableSummary(key, row.description)


def list_all(session: Session) -> list[VariableSummary]:
    query = select(models.Variable.key, models.Variable.description).order_by(models.Variable.key)
    return [VariableSummary(key, description) for key, description in session.execute(query)]


def upsert(
    session: Session, cipher: Cipher, key: str, value: str, description: str | None = None
) -> None:
    """Create the variable, or replace its value and description."""
    if not key or len(key) > models.ID_LEN:
        raise exceptions.InvalidValue(
            f"variable key {key!r} must have 1 to {models.ID_LEN} characters"
        )
    values = {"key": key, "value": cipher.encrypt(value), "description": description}
    sql.upsert(session, models.Variable, values, key=["key"])


def delete(session: Session, key: str) -> bool:
    """Delete the variable; False if there was none."""
    return sql.delete_one(session, models.Variable.key, key)
