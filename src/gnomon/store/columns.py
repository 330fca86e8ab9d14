"""Column types shared by the models: aware UTC datetimes, str enums, portable ids and JSON."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

E = TypeVar("E", bound=enum.StrEnum)

#: Surrogate keys: BIGINT on Postgres (task tries and XComs outgrow 2**31 on busy
#: deployments), INTEGER on SQLite where only ``INTEGER PRIMARY KEY`` aliases the rowid.
BigId: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

#: Plain JSON rather than Postgres JSONB: JSONB reorders object keys, and XCom values and
#: serialized DAGs must read back exactly as written. Nothing queries inside these documents.
Json: TypeEngine[Any] = JSON()


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the default of every timestamp column)."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always reads back as an aware UTC datetime.

    Postgres stores ``timestamptz``; SQLite has no time zones, so the value is stored as naive
    UTC text (fixed width, so comparisons in SQL order correctly). Naive datetimes are refused
    on the way in: their meaning depends on the machine that wrote them.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} cannot be stored: pass an aware datetime "
                "such as datetime.now(UTC)"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StrEnumType(TypeDecorator[E]):
    """A ``StrEnum`` stored as its lowercase value in a VARCHAR.

    No native Postgres ENUM and no CHECK constraint: adding a state must not need a schema
    migration, and every write of a state goes through ``store.transitions`` anyway.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[E], length: int = 20) -> None:
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum_class(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_class(value)
