"""Pools: named limits on how many task slots may run at once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gnomon.semantics import states
from gnomon.store import exceptions, models, sql

DEFAULT_POOL = "default_pool"
#: ``slots`` of a pool without a limit.
UNLIMITED = -1
#: Task-instance states that hold slots of their pool.


@dataclass(frozen=True, slots=True)
class Pool:
    name: str
    slots: int
    description: str | None = None

    @classmethod
    def from_row(cls, row: models.Pool) -> Pool:
        return cls(row.name, row.slots, row.description)


@dataclass(frozen=True, slots=True)
class PoolUsage:
    """A pool and the slots that its queued and running task instances hold."""

    pool: Pool
    used_slots: int

    @property
    def open_slots(self) -> int | None:
        """Slots left for more task instances (never below 0); None if the pool is unlimited."""
        if self.pool.slots == UNLIMITED:
            return None
        return max(self.pool.slots - self.used_slots, 0)


def get(session: Session, name: str) -> Pool | None:
    row = session.get(models.Pool, name)
    return None if row is None else Pool.from_row(row)


def list_all(session: Session) -> list[Pool]:
    rows = session.scalars(select(models.Pool).order_by(models.Pool.name))
    return [Pool.from_row(row) for row in rows]


def used_slots(session: Session) -> dict[str, int]:
    """Slots held per pool by queued and running task instances; pools holding none are absent."""
    ti = models.TaskInstance
    query = (
        select(ti.pool, func.sum(ti.pool_slots))
        .where(ti.state.in_(states.HOLDS_SLOT))
        .group_by(ti.pool)
    )
    return {pool: int(total) for pool, total in session.execute(query)}


def list_with_usage(session: Session) -> list[PoolUsage]:
    """Every pool, by name, with the slots its queued and running task instances hold."""
    used = used_slots(session)
    return [PoolUsage(pool, used.get(pool.name, 0)) for pool in list_all(session)]


def upsert(session: Session, name: str, slots: int, description: str | None = None) -> Pool:
    """Create the pool, or replace its slots and description."""
    if not name or len(name) > models.POOL_LEN:
        raise exceptions.InvalidValue(
            f"pool name {name!r} must have 1 to {models.POOL_LEN} characters"
        )
    if slots < UNLIMITED:
        raise exceptions.InvalidValue(
            f"pool {name!r}: slots must be >= 0, or {UNLIMITED} for unlimited (got {slots})"
        )
    values = {"name": name, "slots": slots, "description": description}
    sql.upsert(session, models.Pool, values, key=["name"])
    return Pool(name, slots, description)


def delete(session: Session, name: str) -> bool:
    """Delete the pool; False if there was none. The default pool cannot be deleted."""
    if name == DEFAULT_POOL:
        raise exceptions.InvalidValue(
            f"{DEFAULT_POOL!r} cannot be deleted (tasks without a pool use it); "
            "set its slots instead"
        )
    return sql.delete_one(session, models.Pool.name, name)
