"""Pools: set, read, list and delete; the default pool stays."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from gnomon.store import exceptions, pools


def test_a_pool_is_created_then_replaced(session: Session) -> None:
    pools.upsert(session, "warehouse", 4, "4 warehouse connections")
    pools.upsert(session, "warehouse", 8)

    assert pools.get(session, "warehouse") == pools.Pool("warehouse", 8, None)


def test_pools_are_listed_by_name(session: Session) -> None:
    pools.upsert(session, "zeta", 1)
    pools.upsert(session, "alpha", pools.UNLIMITED)

    assert [p.name for p in pools.list_all(session)] == ["alpha", "default_pool", "zeta"]


def test_delete_reports_whether_there_was_a_pool(session: Session) -> None:
    pools.upsert(session, "tmp", 1)

    assert pools.delete(session, "tmp")
    assert not pools.delete(session, "tmp")
    assert pools.get(session, "tmp") is None


def test_the_default_pool_cannot_be_deleted(session: Session) -> None:
    with pytest.raises(exceptions.InvalidValue, match="'default_pool' cannot be deleted"):
        pools.delete(session, "default_pool")


@pytest.mark.parametrize(("name", "slots"), [("p", -2), ("", 1), ("x" * 257, 1)])
def test_invalid_pools_are_refused(session: Session, name: str, slots: int) -> None:
    with pytest.raises(exceptions.InvalidValue):
        pools.upsert(session, name, slots)
