"""Every example pipeline passes `gnomon dags test`, run as a user would run it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import cli
from support.processes import wait_for
from support.standalone import Standalone

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "dags"


def gnomon(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli.gnomon(home, *args, "--dags-folder", str(EXAMPLES))


def run_test(home: Path, dag_id: str, *extra: str) -> dict[str, Any]:
    result = gnomon(home, "dags", "test", dag_id, "--output", "json", *extra)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["dag_id"] == dag_id
    assert report["state"] == "success"
    return report


def states(report: dict[str, Any]) -> dict[tuple[str, int], str]:
    return {(t["task_id"], t["map_index"]): t["state"] for t in report["tasks"]}


def test_examples_folder_has_no_import_errors(tmp_path: Path) -> None:
    result = gnomon(tmp_path, "dags", "list-import-errors", "--output", "json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == []


def test_etl_orders_loads_the_day_into_the_warehouse(tmp_path: Path) -> None:
    report = run_test(tmp_path, "etl_orders", "--conf", '{"orders": 50}')
    assert set(states(report).values()) == {"success"}
    assert (tmp_path / "example-data" / "etl_orders" / "warehouse.db").exists()


def test_partition_fanout_maps_one_instance_per_partition(tmp_path: Path) -> None:
    report = run_test(tmp_path, "partition_fanout", "--conf", '{"hours": 6}')
    mapped = [k for k in states(report) if k[0] == "count_events"]
    assert sorted(i for _, i in mapped) == list(range(6))


@pytest.mark.parametrize(
    ("mode", "ran", "skipped"),
    [
        ("full", "full_reload.reload", "incremental"),
        ("incremental", "incremental", "full_reload.reload"),
    ],
)
def test_branch_on_param_follows_the_mode(
    tmp_path: Path, mode: str, ran: str, skipped: str
) -> None:
    report = run_test(tmp_path, "branch_on_param", "--conf", json.dumps({"mode": mode}))
    by_task = states(report)
    assert by_task[(ran, -1)] == "success"
    assert by_task[(skipped, -1)] == "skipped"
    assert by_task[("publish", -1)] == "success"


def test_branch_on_param_refuses_a_mode_outside_its_enum(tmp_path: Path) -> None:
    result = gnomon(tmp_path, "dags", "test", "branch_on_param", "--conf", '{"mode": "bogus"}')
    assert result.returncode == 2
    assert "'mode'" in result.stderr


def test_standalone_runs_the_examples_when_triggered(tmp_path: Path) -> None:
    """What `make run` starts: standalone on examples/dags; each example, triggered, succeeds."""
    runner = Standalone(tmp_path, f"sqlite:///{tmp_path / 'gnomon.db'}", EXAMPLES)
    runner.start()
    try:
        triggered: dict[str, str] = {}

        def trigger_all() -> bool:
            for dag_id in ("etl_orders", "partition_fanout", "branch_on_param"):
                if dag_id not in triggered:
                    result = runner.cli("dags", "trigger", dag_id)
                    if result.returncode == 0:
                        triggered[dag_id] = result.stdout.strip()
            return len(triggered) == 3

        wait_for(trigger_all, timeout=60)
        for dag_id, run_id in triggered.items():
            waited = runner.cli("runs", "wait", dag_id, run_id, "--timeout", "60")
            assert waited.returncode == 0, (dag_id, waited.stdout, waited.stderr)
    finally:
        runner.stop_all()
