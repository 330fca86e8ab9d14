"""The run commands against a live `gnomon standalone`: trigger, runs, tasks, pause, backfill."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import select
from support.cli import gnomon
from support.processes import wait_for
from support.standalone import Standalone

from gnomon.store import db, models

DAGS = {
    "greet": """
from datetime import datetime
from gnomon import DAG, Param, task

with DAG(
    "greet",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"name": Param("world", type="string", minLength=1)},
) as dag:
    @task
    def hello(params=None):
        print(f"hello {params['name']}")
        return params["name"]

    hello()
""",
    "gated": """
from datetime import datetime
from pathlib import Path
from gnomon import DAG, task

with DAG("gated", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    @task
    def check():
        if not (Path(__file__).parent.parent / "open").exists():
            raise RuntimeError("the gate is closed")

    check()
""",
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    root = tmp_path_factory.mktemp("live")
    (root / "dags").mkdir()
    for name, source in DAGS.items():
        (root / "dags" / f"{name}.py").write_text(source)
    runner = Standalone(root, f"sqlite:///{root / 'gnomon.db'}", root / "dags")
    runner.env["GNOMON_DAGS_ARE_PAUSED_AT_CREATION"] = "true"
    runner.start()
    try:
        wait_for(lambda: runner.cli("runs", "list", "greet").returncode == 0, timeout=60)
        yield runner
    finally:
        runner.stop_all()


def _run_count(live: Standalone, dag_id: str) -> int:
    result = live.cli("runs", "list", dag_id, "--output", "json")
    assert result.returncode == 0, result.stderr
    return len(json.loads(result.stdout))


def test_trigger_prints_the_run_id_and_the_run_succeeds(live: Standalone) -> None:
    result = live.cli("dags", "trigger", "greet", "--conf", '{"name": "gnomon"}')
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    assert run_id.startswith("manual__")
    waited = live.cli("runs", "wait", "greet", run_id, "--timeout", "60")
    assert (waited.returncode, waited.stdout.strip()) == (0, "success")
    shown = json.loads(live.cli("runs", "show", "greet", run_id, "--output", "json").stdout)
    assert shown["state"] == "success" and shown["conf"] == {"name": "gnomon"}
    (hello,) = shown["tasks"]
    (attempt,) = hello["tries"]
    assert attempt["state"] == "success" and attempt["pid"] > 0 and attempt["hostname"]
    logs = live.cli("tasks", "logs", "greet", run_id, "hello")
    assert logs.returncode == 0 and "hello gnomon" in logs.stdout


def test_trigger_with_json_output_returns_the_run(live: Standalone) -> None:
    result = live.cli(
        "dags", "trigger", "greet", "--run-id", "my-run", "--logical-date", "2026-02-01",
        "--output", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["run_id"] == "my-run"
    assert run["logical_date"] == "2026-02-01T00:00:00+00:00"
    assert run["data_interval_end"] == "2026-02-01T00:00:00+00:00"
    listed = json.loads(live.cli("runs", "list", "greet", "--output", "json").stdout)
    assert "my-run" in [r["run_id"] for r in listed]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope"], 1, "DAG 'nope' is not known"),
        (["greet", "--conf", "{not json"], 2, "--conf is not a JSON object"),
        (["greet", "--conf", '{"name": ""}'], 2, "param 'name'"),
        (["greet", "--logical-date", "yesterday"], 2, "--logical-date 'yesterday'"),
        (["greet", "--run-id", "a/b"], 2, "invalid run id"),
    ],
)
def test_a_bad_trigger_is_refused_and_creates_no_run(
    live: Standalone, args: list[str], code: int, message: str
) -> None:
    before = _run_count(live, "greet")
    result = live.cli("dags", "trigger", *args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert _run_count(live, "greet") == before


def test_runs_wait_exits_1_for_a_failed_run_and_clear_reruns_it(live: Standalone) -> None:
    run_id = live.cli("dags", "trigger", "gated").stdout.strip()
    failed = live.cli("runs", "wait", "gated", run_id, "--timeout", "60")
    assert failed.returncode == 1 and "failed" in failed.stderr
    logs = live.cli("tasks", "logs", "gated", run_id, "check", "--try", "1")
    assert "RuntimeError: the gate is closed" in logs.stdout
    (live.root / "open").touch()
    cleared = live.cli("tasks", "clear", "gated", run_id, "--only-failed")
    assert cleared.returncode == 0, cleared.stderr
    assert "check" in cleared.stdout
    assert live.cli("runs", "wait", "gated", run_id, "--timeout", "60").returncode == 0
    missing = live.cli("tasks", "logs", "gated", run_id, "check", "--try", "9")
    assert missing.returncode == 1 and "no try 9" in missing.stderr


def test_pause_and_unpause_set_the_flag_and_unknown_dags_are_refused(live: Standalone) -> None:
    assert live.cli("dags", "unpause", "greet").returncode == 0
    assert _is_paused(live, "greet") is False
    # Unpaused with catchup=False: the latest daily interval gets its scheduled run.
    wait_for(lambda: _has_scheduled_run(live), timeout=30)
    assert live.cli("dags", "pause", "greet").returncode == 0
    assert _is_paused(live, "greet") is True
    unknown = live.cli("dags", "pause", "nope")
    assert unknown.returncode == 1 and "DAG 'nope' is not known" in unknown.stderr


def _has_scheduled_run(live: Standalone) -> bool:
    listed = json.loads(live.cli("runs", "list", "greet", "--output", "json").stdout)
    return any(r["run_type"] == "scheduled" for r in listed)


def _is_paused(live: Standalone, dag_id: str) -> bool:
    engine = db.make_engine(live.env["GNOMON_DB_URL"])
    try:
        with engine.connect() as connection:
            return bool(
                connection.execute(
                    select(models.Dag.is_paused).where(models.Dag.dag_id == dag_id)
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_backfill_runs_each_interval_and_reports_progress(live: Standalone) -> None:
    result = live.cli("dags", "backfill", "greet", "--start", "2026-03-01", "--end", "2026-03-03")
    assert result.returncode == 0, result.stderr
    assert "3 run(s) created" in result.stderr
    listed = json.loads(live.cli("runs", "list", "greet", "--output", "json").stdout)
    backfilled = sorted(r["logical_date"] for r in listed if r["run_type"] == "backfill")
    assert backfilled == [f"2026-03-0{d}T00:00:00+00:00" for d in (1, 2, 3)]
    again = live.cli("dags", "backfill", "greet", "--start", "2026-03-01", "--end", "2026-03-03")
    assert again.returncode == 0 and "3 already there" in again.stderr


def test_backfill_refuses_a_start_after_its_end(live: Standalone) -> None:
    result = live.cli("dags", "backfill", "greet", "--start", "2026-03-05", "--end", "2026-03-01")
    assert result.returncode == 2
    assert "is after --end" in result.stderr


def test_commands_on_an_unreachable_database_fail_clearly(tmp_path: Path) -> None:
    env = {"GNOMON_DB_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nothing"}
    result = gnomon(tmp_path, "dags", "trigger", "greet", env=env)
    assert result.returncode == 1
    assert "cannot reach the metadata database" in result.stderr


def test_commands_on_a_database_never_migrated_say_how_to_fix_it(tmp_path: Path) -> None:
    result = gnomon(tmp_path, "runs", "list", "greet")
    assert result.returncode == 1
    assert "gnomon db migrate" in result.stderr
    assert not (tmp_path / "gnomon.db").exists()


def _api_up(live: Standalone) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{live.port}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_standalone_serves_the_api_and_keeps_its_admin_password_private(live: Standalone) -> None:
    wait_for(lambda: _api_up(live), timeout=30)
    password_file = live.root / "home" / "standalone_admin_password.txt"
    assert password_file.stat().st_mode & 0o777 == 0o600
    password = password_file.read_text().strip()
    log = (live.root / "standalone-0.log").read_text()
    assert log.count(password) == 1  # printed once, at the first start
    base = f"http://127.0.0.1:{live.port}"
    login = httpx.post(
        f"{base}/api/v1/auth/token", json={"username": "admin", "password": password}
    )
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    listed = httpx.get(f"{base}/api/v1/dags", headers=headers).json()
    assert [d["dag_id"] for d in listed["items"]] == ["gated", "greet"]
    health = httpx.get(f"{base}/health").json()
    assert health["scheduler"]["status"] == "healthy"
