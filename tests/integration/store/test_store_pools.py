"""Pools: set, read, list and delete; the default pool stays."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from store_seeds import seed_run

from gnomon.semantics.states import TaskState
from gnomon.store import exceptions, models, pools, task_instances


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


def test_used_slots_sum_the_pool_slots_of_queued_and_running_instances_per_pool(
    session: Session,
) -> None:
    states = [TaskState.QUEUED, TaskState.RUNNING, TaskState.SCHEDULED, TaskState.SUCCESS]
    seeded = seed_run(session, *states, TaskState.RUNNING)
    in_warehouse = seeded.ti_ids[:4]
    session.execute(
        update(models.TaskInstance)
        .where(models.TaskInstance.id.in_(in_warehouse))
        .values(pool="warehouse", pool_slots=3)
    )

    assert pools.used_slots(session) == {"warehouse": 6, "default_pool": 1}


def test_open_slots_are_the_slots_left_and_none_for_an_unlimited_pool(session: Session) -> None:
    pools.upsert(session, "full", 1)
    pools.upsert(session, "unlimited", pools.UNLIMITED)
    seeded = seed_run(session, TaskState.RUNNING, TaskState.QUEUED)
    session.execute(
        update(models.TaskInstance)
        .where(models.TaskInstance.id == seeded.ti_ids[0])
        .values(pool="full", pool_slots=2)
    )
    session.execute(
        update(models.TaskInstance)
        .where(models.TaskInstance.id == seeded.ti_ids[1])
        .values(pool="unlimited")
    )

    usage = {u.pool.name: (u.used_slots, u.open_slots) for u in pools.list_with_usage(session)}

    assert usage == {"default_pool": (0, 128), "full": (2, 0), "unlimited": (1, None)}


def test_occupancy_counts_slots_per_pool_instances_per_dag_and_those_queued(
    session: Session,
) -> None:
    etl = seed_run(session, TaskState.QUEUED, TaskState.RUNNING, TaskState.SCHEDULED)
    seed_run(session, TaskState.RUNNING, TaskState.SUCCESS, dag_id="report")
    session.execute(
        update(models.TaskInstance)
        .where(models.TaskInstance.id == etl.ti_ids[0])
        .values(pool="warehouse", pool_slots=3)
    )
    session.execute(
        update(models.Dag).where(models.Dag.dag_id == "report").values(max_active_tasks=2)
    )

    held = task_instances.occupancy(session)

    assert held.pool_slots == {"warehouse": 3, "default_pool": 2}
    assert held.per_dag == {"etl": 2, "report": 1}
    assert held.dag_limits == {"etl": 16, "report": 2}
    assert held.queued == 1
