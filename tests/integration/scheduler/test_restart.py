"""Restart safety: kill -9 ``gnomon standalone`` in the middle of a run, start it again."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from support.processes import children_of, is_gone, wait_for
from support.standalone import Standalone

from gnomon.semantics.states import TaskState
from gnomon.store import db, models

TASKS = [f"step{i}" for i in range(8)]

RESTARTABLE = """
import time
from datetime import datetime, timedelta
from pathlib import Path
from gnomon import DAG, chain
from gnomon.operators.python import PythonOperator

EFFECTS = Path({effects!r})


def effect(name):
    with EFFECTS.open("a") as f:
        f.write(name + "\\n")
    time.sleep(0.4)


with DAG(
    "restartable",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    default_args={{"retries": 3, "retry_delay": timedelta(seconds=0)}},
) as dag:
    chain(*[PythonOperator(task_id=t, python_callable=effect, op_args=[t]) for t in {tasks!r}])
"""


@pytest.fixture
def standalone(tmp_path: Path, db_url: str) -> Iterator[Standalone]:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "restartable.py").write_text(
        RESTARTABLE.format(effects=str(tmp_path / "effects.log"), tasks=TASKS)
    )
    runner = Standalone(tmp_path, db_url, tmp_path / "dags")
    try:
        yield runner
    finally:
        runner.stop_all()


def _effects(root: Path) -> list[str]:
    path = root / "effects.log"
    return path.read_text().split() if path.exists() else []


def _states(db_url: str, model: type[models.TaskInstance] | type[models.TaskTry]) -> list[str]:
    engine = db.make_engine(db_url)
    try:
        with db.session_factory(engine, read_only=True)() as session:
            return [str(s) for s in session.scalars(select(model.state))]
    finally:
        engine.dispose()


def _succeeded(db_url: str) -> set[str]:
    engine = db.make_engine(db_url)
    try:
        with db.session_factory(engine, read_only=True)() as session:
            rows = session.execute(
                select(models.TaskInstance.task_id).where(
                    models.TaskInstance.state == TaskState.SUCCESS
                )
            )
            return {task_id for (task_id,) in rows}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_run_survives_kill_9_of_standalone_without_rerunning_what_succeeded(
    standalone: Standalone, db_url: str
) -> None:
    first = standalone.start()
    triggered: list[str] = []

    def trigger() -> bool:
        result = standalone.cli("dags", "trigger", "restartable")
        if result.returncode == 0:
            triggered.append(result.stdout.strip())
        return bool(triggered)

    wait_for(trigger, timeout=60)
    wait_for(lambda: len(_effects(standalone.root)) >= 3, timeout=60)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    wait_for(lambda: all(is_gone(p) for p in children_of(first.pid)), timeout=10)
    succeeded = _succeeded(db_url)
    assert succeeded, "nothing had succeeded before the kill"

    standalone.start()
    waited = standalone.cli("runs", "wait", "restartable", triggered[0], "--timeout", "90")
    assert waited.returncode == 0, waited.stderr
    effects = _effects(standalone.root)
    for task_id in succeeded:
        assert effects.count(task_id) == 1, f"{task_id} ran again: {effects}"
    assert set(effects) == set(TASKS)
    assert set(_states(db_url, models.TaskInstance)) == {"success"}
    assert "running" not in _states(db_url, models.TaskTry)
    assert "queued" not in _states(db_url, models.TaskTry)
