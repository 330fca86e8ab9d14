"""DAG files for production-mode tests: tasks whose side effect is a row with a unique key.

The tasks call a helper module (``effects.py``) that sits beside the DAG file, so a worker
can only run them if it received the DAG's bundle, helpers included.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

EFFECTS = '''\
"""Test helper shipped to workers in the DAG bundle."""

import time

import psycopg


def record(dsn, sleep=0.0, fail_first_try=False, **context):
    ti = context["ti"]
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO side_effects (dag_id, run_id, task_id, map_index, try_number) "
            "VALUES (%s, %s, %s, %s, %s)",
            (ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number),
        )
    if sleep:
        time.sleep(sleep)
    if fail_first_try and ti.try_number == 1:
        raise RuntimeError("failing the first try on purpose")
    return ti.task_id
'''

SIDE_EFFECTS_TABLE = """
CREATE TABLE IF NOT EXISTS side_effects (
    dag_id text NOT NULL,
    run_id text NOT NULL,
    task_id text NOT NULL,
    map_index integer NOT NULL,
    try_number integer NOT NULL,
    PRIMARY KEY (dag_id, run_id, task_id, map_index, try_number)
)
"""


def psycopg_dsn(db_url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as a libpq one, for the tasks."""
    return db_url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_side_effects(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text(SIDE_EFFECTS_TABLE))


def write_wide_dag(
    folder: Path,
    dag_id: str,
    *,
    tasks: int,
    queues: list[str],
    dsn: str,
    layers: int = 1,
    sleep: float = 0.0,
    retries: int = 1,
    max_active_tasks: int = 64,
    max_active_runs: int = 64,
) -> Path:
    """``tasks`` tasks in ``layers`` layers (each task of a layer depends on one task of the
    layer before), spread round-robin over ``queues``; each records its side effect."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "effects.py").write_text(EFFECTS)
    per_layer = max(1, tasks // layers)
    path = folder / f"{dag_id}.py"
    path.write_text(
        f"""\
from datetime import datetime, timedelta

from gnomon import DAG
from gnomon.operators import PythonOperator

from effects import record

QUEUES = {queues!r}

with DAG(
    {dag_id!r},
    schedule=None,
    start_date=datetime(2026, 1, 1),
    max_active_tasks={max_active_tasks},
    max_active_runs={max_active_runs},
    default_args={{"retries": {retries}, "retry_delay": timedelta(seconds=0)}},
) as dag:
    previous = []
    for i in range({tasks}):
        current = PythonOperator(
            task_id=f"t{{i:03d}}",
            python_callable=record,
            op_kwargs={{"dsn": {dsn!r}, "sleep": {sleep!r}}},
            queue=QUEUES[i % len(QUEUES)],
        )
        layer, position = divmod(i, {per_layer})
        if layer > 0:
            previous[(layer - 1) * {per_layer} + position % {per_layer}] >> current
        previous.append(current)
"""
    )
    return path
