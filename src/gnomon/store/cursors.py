"""The psycopg cursor of Gnomon's Postgres engines: its ``description`` is built on demand.

psycopg builds ``cursor.description`` afresh at every read, a ``Column`` per result column,
each looking up its type (a few microseconds a column). SQLAlchemy reads it after every
statement that returns rows, but once a statement's compiled form is cached it only checks
that there is one: the columns are known already. So every hot read paid for columns
nobody looked at: the execution API's read of a try with its instance and run (51 columns)
spent more on them than on the rest of its client side (measured: 210-300 µs per execution
with them built, 105-165 µs without). Here ``description`` is a sequence of the same
``Column`` objects, built by psycopg itself the first time one is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import psycopg
from psycopg import pq

#: Result statuses that carry rows (psycopg's own rule for a description, ``SELECT ;`` too).
_ROWS = frozenset(
    status
    for name in ("TUPLES_OK", "SINGLE_TUPLE", "TUPLES_CHUNK")
    if (status := getattr(pq.ExecStatus, name, None)) is not None
)


class Description(Sequence[psycopg.Column]):
    """The columns of one result of a cursor, made when first read."""

    __slots__ = ("_columns", "_cursor", "_result")

    def __init__(self, cursor: Cursor, result: pq.abc.PGresult) -> None:
        self._cursor = cursor
        self._result = result
        self._columns: list[psycopg.Column] | None = None

    def __len__(self) -> int:
        return self._result.nfields

    @overload
    def __getitem__(self, index: int) -> psycopg.Column: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[psycopg.Column]: ...

    def __getitem__(self, index: int | slice) -> psycopg.Column | Sequence[psycopg.Column]:
        return self._built()[index]

    def __iter__(self) -> Iterator[psycopg.Column]:
        return iter(self._built())

    def _built(self) -> list[psycopg.Column]:
        if self._columns is None:
            if self._cursor.pgresult is not self._result:
                # psycopg describes the cursor's current result only.
                raise RuntimeError("a result's description was read after the next result")
            self._columns = self._cursor.columns() or []
        return self._columns


class Cursor(psycopg.Cursor[Any]):
    """``psycopg.Cursor`` with a ``description`` made on demand (``Description``)."""

    @property
    def description(self) -> Description | None:  # type: ignore[override]
        result = self.pgresult
        if result is None or not (result.nfields or result.status in _ROWS):
            return None
        return Description(self, result)

    def columns(self) -> list[psycopg.Column] | None:
        """psycopg's own description of the current result, built now."""
        return super().description
