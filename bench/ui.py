"""The API's figure for the UI: with 1,000 DAGs and a 2,000-task DAG with 50 runs in the
database, the server time of the DAG list and of the grid data.

The DAG files are parsed and synced as the DAG processor does; the runs are created as a
trigger creates them, and their task instances then get a mix of final states in bulk. The
requests go through the whole ASGI app in process (auth, routing, queries, JSON), and the
figure is the app's own ``Server-Timing`` (no network, no client)."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from gnomon.api.app import create_app
from gnomon.api.config import ApiConfig
from gnomon.dagfiles import bag
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import RunState, TaskState
from gnomon.store import dags, db, models, runs, secrets, tokens, users
from gnomon.store.models import Role, TokenKind

TARGET_MS = 300.0
BIG_DAG_ID = "big_dag"
MANY_DAGS = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.empty import EmptyOperator

for i in range({count}):
    with DAG(f"dag_{{i:04d}}", schedule="@daily", start_date=datetime(2026, 1, 1),
             tags=["bench", f"group{{i % 10}}"]):
        EmptyOperator(task_id="start") >> EmptyOperator(task_id="end")
"""
BIG_DAG = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.empty import EmptyOperator

with DAG("{dag_id}", schedule=None, start_date=datetime(2026, 1, 1)):
    previous = [EmptyOperator(task_id=f"root_{{i}}") for i in range(20)]
    for layer in range({layers}):
        current = [EmptyOperator(task_id=f"t_{{layer:03d}}_{{i:02d}}") for i in range(20)]
        for j, task in enumerate(current):
            previous[j] >> task
        previous = current
"""


def _seed(url: str, root: Path, dag_count: int, tasks: int, run_count: int) -> None:
    folder = root / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "many.py").write_text(MANY_DAGS.format(count=dag_count))
    (folder / "big.py").write_text(BIG_DAG.format(dag_id=BIG_DAG_ID, layers=tasks // 20 - 1))
    engine = db.make_engine(url)
    try:
        result = bag.parse_folder(folder, 300)
        if result.import_errors:
            raise RuntimeError(result.import_errors[0].error)
        sessions = db.session_factory(engine)
        with sessions.begin() as session:
            dags.sync_parse_result(session, result, now=datetime.now(UTC))
        cache = VersionCache()
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for n in range(run_count):
            with sessions.begin() as session:
                row = session.get(models.Dag, BIG_DAG_ID)
                assert row is not None and row.latest_version_id is not None
                version = cache.get(session, row.latest_version_id)
                at = start + timedelta(hours=n)
                run = runs.create(
                    session,
                    runs.NewRun(
                        dag_id=BIG_DAG_ID,
                        run_id=f"run_{n:03d}",
                        dag_version_id=version.id,
                        run_type=models.RunType.MANUAL,
                        logical_date=at,
                        data_interval_start=at,
                        data_interval_end=at,
                        run_after=at,
                        conf={},
                        params={},
                    ),
                    version.dag,
                    now=at,
                )
                ti = models.TaskInstance
                session.execute(
                    update(ti)
                    .where(ti.dag_run_id == run.id)
                    .values(state=TaskState.SUCCESS, try_number=1, start_date=at, end_date=at)
                )
                final = TaskState.SUCCESS if n % 5 else TaskState.FAILED
                if final is TaskState.FAILED:
                    # A failure half-way: one layer failed on its second try, the rest
                    # upstream_failed, so the grid has a realistic mix of cells.
                    half = f"t_{tasks // 40:03d}_"
                    session.execute(
                        update(ti)
                        .where(ti.dag_run_id == run.id, ti.task_id.startswith(half))
                        .values(state=TaskState.FAILED, try_number=2)
                    )
                    session.execute(
                        update(ti)
                        .where(ti.dag_run_id == run.id, ti.task_id > half + "~")
                        .values(state=TaskState.UPSTREAM_FAILED, try_number=0, start_date=None)
                    )
                session.execute(
                    update(models.DagRun)
                    .where(models.DagRun.id == run.id)
                    .values(state=RunState(final.value), start_date=at, end_date=at)
                )
    finally:
        engine.dispose()


def _server_ms(client: TestClient, path: str, headers: dict[str, str]) -> float:
    response = client.get(path, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
    timing = response.headers["server-timing"]
    return float(timing.split("dur=")[1])


def measure(
    url: str,
    root: Path,
    *,
    dag_count: int = 1000,
    tasks: int = 2000,
    run_count: int = 50,
    repeat: int = 15,
) -> dict[str, Any]:
    began = time.perf_counter()
    _seed(url, root, dag_count, tasks, run_count)
    seeded_s = time.perf_counter() - began
    engine = db.make_engine(url)
    home = root / "home"
    home.mkdir(exist_ok=True)
    try:
        with db.session_factory(engine).begin() as session:
            user = users.create(session, "bench", "bench-password", Role.ADMIN)
            secret, _ = tokens.issue(session, user.id, TokenKind.API, expires_at=None)
        config = ApiConfig(
            engine=engine,
            home=home,
            logs_folder=home / "logs",
            cipher=secrets.Cipher.from_keys(secrets.load_or_create_key(home / "secret.key")),
        )
        headers = {"Authorization": f"Bearer {secret}"}
        paths = {
            "dag_list_page_of_100": "/api/v1/dags?limit=100",
            "dag_list_all_1000": "/api/v1/dags?limit=1000",
            "grid_25_runs": f"/api/v1/dags/{BIG_DAG_ID}/grid?limit=25",
            "grid_50_runs": f"/api/v1/dags/{BIG_DAG_ID}/grid?limit=50",
            "dag_detail_2000_tasks": f"/api/v1/dags/{BIG_DAG_ID}",
        }
        figures: dict[str, Any] = {}
        with TestClient(create_app(config)) as client:
            for name, path in paths.items():
                _server_ms(client, path, headers)  # warm-up: caches, query plans
                samples = sorted(_server_ms(client, path, headers) for _ in range(repeat))
                figures[name] = {
                    "path": path,
                    "median_ms": round(statistics.median(samples), 1),
                    "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 1),
                    "max_ms": round(samples[-1], 1),
                    "meets_target": statistics.median(samples) <= TARGET_MS,
                }
    finally:
        engine.dispose()
    return {
        "scenario": "ui_api",
        "parameters": {
            "dags": dag_count + 1,
            "big_dag_tasks": tasks,
            "big_dag_runs": run_count,
            "task_instances": tasks * run_count,
            "samples_per_request": repeat,
            "seed_s": round(seeded_s, 1),
        },
        "target_server_ms": TARGET_MS,
        "metrics": figures,
    }
