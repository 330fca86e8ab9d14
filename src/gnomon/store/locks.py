"""Claims between several schedulers on Postgres: row locks that pass over rows another
transaction holds (``FOR NO KEY UPDATE SKIP LOCKED``), and one advisory lock for queueing.

Guarded transitions already make every state change safe under races; these locks keep two
schedulers from *deciding* on the same rows at once, where a decision spans several rows:
planning a run, counting a DAG's active runs before starting or creating one, counting pool
slots before queueing. A scheduler never waits for another here: what it cannot claim now it
retries a moment later, while the holder is doing that very work.

Lock order, to keep waits acyclic: DAG rows (by dag_id), then run rows (by id), then task
instance rows; the queueing lock last. Only the ``SKIP LOCKED`` claims and the try-lock are
taken here, and neither waits, so they add no deadlock of their own.

Row locks are ``FOR NO KEY UPDATE``, the lock an ``UPDATE`` of non-key columns takes itself:
it excludes other claims and updates, but not the ``FOR KEY SHARE`` lock that inserting a
row referring to it takes (an XCom or a try of a claimed run, a run of a claimed DAG), so
claims never hold up writers of other rows.

SQLite has one writer at a time (``BEGIN IMMEDIATE``): there every claim is granted whole.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVar

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from gnomon.store import models, sql

T = TypeVar("T")

#: The key of the transaction-scoped advisory lock that serialises counting and queueing
#: (``pg_try_advisory_xact_lock``; one bigint namespace per database, so a distinctive value:
#: "gnomon" in ASCII, then 1).
QUEUEING = 0x676E6F6D6F6E_0001


def contended(session: Session) -> bool:
    """True where another writer can run at the same time (Postgres), so claims matter."""
    return session.get_bind().dialect.name == "postgresql"


def skip_locked(session: Session, stmt: Select[T]) -> Select[T]:
    """``stmt`` locking the rows it returns and skipping those another transaction holds
    (Postgres; unchanged on SQLite)."""
    if not contended(session):
        return stmt
    return stmt.with_for_update(skip_locked=True, key_share=True)


def try_queueing_lock(session: Session) -> bool:
    """Take the queueing lock until this transaction ends; False if another holds it.

    Pools and ``max_active_tasks`` are counted, then filled: two schedulers doing both at
    once would each see the same free slot and both fill it. The holder's count is taken
    after it got the lock, and includes everything queued by the previous holder, whose
    transaction committed when it released the lock.
    """
    if not contended(session):
        return True
    got = session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": QUEUEING}
    ).scalar_one()
    return bool(got)


def claim_dags(session: Session, dag_ids: Collection[str]) -> set[str]:
    """Lock the rows of ``dag_ids`` that no other transaction holds; the ids claimed.

    Race it settles: two schedulers counting a DAG's runs against ``max_active_runs`` and
    each starting (or creating) one more: only the holder of the DAG's row counts and acts.
    """
    if not contended(session) or not dag_ids:
        return set(dag_ids)
    claimed: set[str] = set()
    for chunk in sql.chunks(sorted(dag_ids)):
        stmt = (
            select(models.Dag.dag_id)
            .where(models.Dag.dag_id.in_(chunk))
            .order_by(models.Dag.dag_id)
            .with_for_update(skip_locked=True, key_share=True)
        )
        claimed.update(session.scalars(stmt))
    return claimed
