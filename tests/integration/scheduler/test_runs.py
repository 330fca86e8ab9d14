"""Runs driven by the real scheduler and local executor, on SQLite and on Postgres."""

from __future__ import annotations

import itertools
from datetime import datetime

from support.orchestrator import Orchestrator, max_overlap, try_intervals

from gnomon.semantics.states import RunState

CHAIN = """
from datetime import datetime
from gnomon import DAG, task

with DAG("chain", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def extract():
        return {"rows": 3}

    @task
    def transform(data):
        return data["rows"] * 10

    @task
    def load(value):
        print("loaded", value)
        return value + 1

    load(transform(extract()))
"""


def test_a_chain_runs_in_order_passing_xcoms(orchestrator: Orchestrator) -> None:
    orchestrator.write_dag("chain", CHAIN)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("chain")
    assert orchestrator.wait_run("chain", run_id) is RunState.SUCCESS
    report = orchestrator.report("chain", run_id)
    assert [t["task_id"] for t in report["tasks"]] == ["extract", "transform", "load"]
    assert all(t["state"] == "success" and t["try_number"] == 1 for t in report["tasks"])
    tries = [t["tries"][0] for t in report["tasks"]]
    for before, after in itertools.pairwise(tries):
        assert after["start_date"] >= before["end_date"]
    log = orchestrator.home / "logs" / "chain" / run_id.replace(":", "_").replace("+", "_")
    assert "loaded 30" in (log / "load" / "try-1.log").read_text()
    assert tries[2]["log"] == str(log / "load" / "try-1.log")


FAN_OUT = """
import time
from datetime import datetime
from gnomon import DAG
from gnomon.operators.python import PythonOperator

with DAG("fan_out", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    start = PythonOperator(task_id="start", python_callable=lambda: None)
    middle = [
        PythonOperator(task_id=f"t{i}", python_callable=lambda: time.sleep(0.3))
        for i in range(8)
    ]
    end = PythonOperator(task_id="end", python_callable=lambda: None)
    start >> middle >> end
"""


def test_a_fan_out_runs_its_branches_in_parallel(orchestrator: Orchestrator) -> None:
    orchestrator.write_dag("fan_out", FAN_OUT)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("fan_out")
    assert orchestrator.wait_run("fan_out", run_id) is RunState.SUCCESS
    report = orchestrator.report("fan_out", run_id)
    assert len(report["tasks"]) == 10
    middle = {**report, "tasks": [t for t in report["tasks"] if t["task_id"].startswith("t")]}
    # Four warm processes (parallelism=4): several at once, never more than four.
    assert 1 < max_overlap(try_intervals(middle)) <= 4


MAPPED = """
from datetime import datetime
from gnomon import DAG, task

with DAG("mapped", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def partitions(count: int):
        return [f"p{i}" for i in range(count)]

    @task
    def process(partition):
        return partition.upper()

    @task
    def collect(results):
        return sorted(results)

    collect(process.expand(partition=partitions("{{ params.count }}" and 4)))
"""


def test_a_task_mapped_over_an_upstream_result_expands_at_run_time(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.write_dag("mapped", MAPPED)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("mapped")
    assert orchestrator.wait_run("mapped", run_id) is RunState.SUCCESS
    report = orchestrator.report("mapped", run_id)
    process = [t for t in report["tasks"] if t["task_id"] == "process"]
    assert [t["map_index"] for t in process] == [0, 1, 2, 3]
    assert orchestrator.xcom("mapped", run_id, "collect") == ["P0", "P1", "P2", "P3"]


PARAMS = """
from datetime import datetime
from gnomon import DAG, Param, task

with DAG(
    "with_params",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    params={"region": Param("eu", type="string"), "limit": Param(10, type="integer")},
) as dag:
    @task
    def show(params=None):
        return f"{params['region']}:{params['limit']}"

    show()
"""


def test_params_of_a_trigger_reach_the_task(orchestrator: Orchestrator) -> None:
    orchestrator.write_dag("with_params", PARAMS)
    orchestrator.sync()
    orchestrator.start()
    overridden = orchestrator.trigger("with_params", {"region": "us"})
    defaults = orchestrator.trigger("with_params", logical_date=datetime(2024, 5, 1))
    assert orchestrator.wait_run("with_params", overridden) is RunState.SUCCESS
    assert orchestrator.wait_run("with_params", defaults) is RunState.SUCCESS
    assert orchestrator.xcom("with_params", overridden, "show") == "us:10"
    assert orchestrator.xcom("with_params", defaults, "show") == "eu:10"


BIG_XCOM = """
from datetime import datetime
from gnomon import DAG, task

with DAG("big_xcom", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def produce():
        return "x" * 5000

    produce()
"""


def test_an_xcom_over_the_size_limit_fails_the_task_with_a_clear_error(
    make_orchestrator: object,
) -> None:
    orchestrator = make_orchestrator(xcom_max_bytes=1000)  # type: ignore[operator]
    orchestrator.write_dag("big_xcom", BIG_XCOM)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("big_xcom")
    assert orchestrator.wait_run("big_xcom", run_id) is RunState.FAILED
    task = orchestrator.task("big_xcom", run_id, "produce")
    assert task["state"] == "failed"
    assert "over the limit of 1000" in task["note"]
    assert orchestrator.xcom("big_xcom", run_id, "produce") is None
