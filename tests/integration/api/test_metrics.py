"""``GET /metrics``: counts from the database at scrape time, and what this process observed
(hand-offs, tries) as the scheduler applied its executor's reports."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from support.api import ApiHarness
from support.orchestrator import Orchestrator
from support.processes import wait_for

from gnomon.semantics.states import RunState

CHAIN = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.empty import EmptyOperator

with DAG("chain", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    EmptyOperator(task_id="first") >> EmptyOperator(task_id="second")
"""

# "stuck" waits for a pool that does not exist: it stays scheduled, and its run running.
STARVED = """
from datetime import datetime
from gnomon import DAG
from gnomon.operators.empty import EmptyOperator

with DAG("starved", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    EmptyOperator(task_id="done")
    EmptyOperator(task_id="stuck", pool="nowhere")
"""


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_runs_instances_and_the_queue_from_the_database(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    orchestrator.write_dag("chain", CHAIN)
    orchestrator.write_dag("starved", STARVED)
    orchestrator.sync()
    orchestrator.start()
    finished = orchestrator.trigger("chain")
    assert orchestrator.wait_run("chain", finished) is RunState.SUCCESS
    running = orchestrator.trigger("starved")
    wait_for(lambda: orchestrator.task("starved", running, "done")["state"] == "success", 60)

    response = api.client.get("/metrics")  # no credentials

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("gnomon_database_up", ())] == 1
    runs = {s: samples[("gnomon_dag_runs", (("state", s),))] for s in ("queued", "running")}
    runs["success"] = samples[("gnomon_dag_runs", (("state", "success"),))]
    assert runs == {"queued": 0, "running": 1, "success": 1}
    # Instances of active runs only: the finished chain's two are not counted.
    instances = {
        state: samples[("gnomon_task_instances", (("state", state),))]
        for state in ("scheduled", "queued", "running", "success")
    }
    assert instances == {"scheduled": 1, "queued": 0, "running": 0, "success": 1}
    assert samples[("gnomon_queue_depth", ())] == 1


def test_a_hand_off_and_the_tries_are_observed_as_the_scheduler_applies_them(
    orchestrator: Orchestrator, api: ApiHarness
) -> None:
    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = {
        "hops": value("gnomon_task_hop_seconds_count"),
        "started": value("gnomon_tries_started_total"),
        "succeeded": value("gnomon_tries_ended_total", state="success"),
        "timed": value("gnomon_try_duration_seconds_count", state="success"),
    }
    orchestrator.write_dag("chain", CHAIN)
    orchestrator.sync()
    orchestrator.start()
    run_id = orchestrator.trigger("chain")
    assert orchestrator.wait_run("chain", run_id) is RunState.SUCCESS

    after = {
        "hops": value("gnomon_task_hop_seconds_count"),
        "started": value("gnomon_tries_started_total"),
        "succeeded": value("gnomon_tries_ended_total", state="success"),
        "timed": value("gnomon_try_duration_seconds_count", state="success"),
    }
    # One hand-off (first -> second); "first" has no upstream.
    assert {k: after[k] - before[k] for k in after} == {
        "hops": 1,
        "started": 2,
        "succeeded": 2,
        "timed": 2,
    }
    scraped = _samples(api.client.get("/metrics").text)
    assert scraped[("gnomon_task_hop_seconds_count", ())] == after["hops"]
