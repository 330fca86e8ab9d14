"""``python -m bench.statements``: the scheduler's per-try statements, one at a time, on a
quiet database (no scheduler, no workers), against leaner spellings of the same statements.

Measurement only: the "lean" variants are written here to show what the ORM path costs; they
are not used by Gnomon. Each figure is the mean over ``--repeat`` calls, in milliseconds,
inside one transaction that is rolled back.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from bench import dags, databases
from bench.harness import Harness
from gnomon.semantics.states import TaskState
from gnomon.store import models, runs, task_instances, transitions, tries

TI = models.TaskInstance
TI_TABLE = cast(Table, models.TaskInstance.__table__)


def _mean_ms(call: Callable[[int], object], ids: list[int]) -> float:
    began = time.perf_counter()
    for ti_id in ids:
        call(ti_id)
    return round((time.perf_counter() - began) * 1000 / len(ids), 3)


def measure(session: Session, run_pk: int, repeat: int) -> dict[str, float]:
    ids = [ti.id for ti in task_instances.of_run(session, run_pk)][1 : repeat + 1]
    now = datetime.now(UTC)
    results: dict[str, float] = {}

    def orm_transition(ti_id: int) -> object:
        return transitions.set_ti_state(
            session, ti_id, expected=TaskState.NONE, new=TaskState.SCHEDULED, queued_at=now
        )

    def orm_no_sync(ti_id: int) -> object:
        stmt = (
            update(TI)
            .where(TI.id.in_([ti_id]), TI.state.in_([TaskState.SCHEDULED]))
            .values(state=TaskState.QUEUED, queued_at=now)
            .returning(TI.id)
            .execution_options(synchronize_session=False)
        )
        return session.execute(stmt).scalars().all()

    def core_update(ti_id: int) -> object:
        stmt = (
            update(TI_TABLE)
            .where(TI_TABLE.c.id == ti_id, TI_TABLE.c.state == TaskState.QUEUED)
            .values(state=TaskState.RUNNING, queued_at=now, updated_at=now)
            .returning(TI_TABLE.c.id)
        )
        return session.connection().execute(stmt).scalars().all()

    def orm_get(ti_id: int) -> object:
        session.expunge_all()  # each pass has a new session: nothing is in its identity map
        return task_instances.by_ids(session, [ti_id])

    def core_get(ti_id: int) -> object:
        return session.connection().execute(select(TI_TABLE).where(TI_TABLE.c.id == ti_id)).first()

    def scheduled_64(ti_id: int) -> object:
        session.expunge_all()
        return task_instances.scheduled(session, limit=64)

    def scheduled_2(ti_id: int) -> object:
        session.expunge_all()
        return task_instances.scheduled(session, limit=2)

    def add_try(ti_id: int) -> object:
        return tries.add_many(session, [tries.NewTry(ti_id, 1, None, "default", "x")], now)

    def run_get(ti_id: int) -> object:
        session.expunge_all()
        return runs.get_by_pk(session, run_pk)

    # In this order, each UPDATE finds its rows in the state it expects.
    results["transitions.set_ti_state (ORM UPDATE, synchronize_session=fetch)"] = _mean_ms(
        orm_transition, ids
    )
    results["task_instances.scheduled(limit=64) (ORM rows -> TI)"] = _mean_ms(scheduled_64, ids)
    results["task_instances.scheduled(limit=2)"] = _mean_ms(scheduled_2, ids)
    results["same UPDATE, ORM, synchronize_session=False"] = _mean_ms(orm_no_sync, ids)
    results["same UPDATE, Core table statement"] = _mean_ms(core_update, ids)
    results["task_instances.by_ids of one row (ORM rows -> TI)"] = _mean_ms(orm_get, ids)
    results["Core SELECT of one row by id"] = _mean_ms(core_get, ids)
    results["runs.get_by_pk"] = _mean_ms(run_get, ids)
    results["tries.add_many of one try (Core INSERT ... RETURNING)"] = _mean_ms(add_try, ids)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.statements", description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=databases.DEFAULT_POSTGRES_URL)
    parser.add_argument("--repeat", type=int, default=500)
    options = parser.parse_args(argv)
    document: dict[str, Any] = {}
    for backend in options.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="gnomon-bench-") as tmp:
            try:
                opened = databases.open_backend(backend, options.postgres_url)
            except databases.PostgresUnavailable as exc:
                document[backend] = {"skipped": str(exc)}
                continue
            try:
                with opened.database(Path(tmp)) as url:
                    harness = Harness(url, Path(tmp), parallelism=1)
                    harness.write_dag("fanout", dags.fanout(options.repeat + 1))
                    harness.sync()
                    run_pk, _ = harness.trigger(dags.FANOUT_DAG_ID)
                    with harness.sessions() as session, session.begin():
                        document[backend] = measure(session, run_pk, options.repeat)
                        session.rollback()
                    harness.engine.dispose()
            finally:
                opened.close()
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
