"""``GET /metrics`` (no auth, like ``/health``): Prometheus metrics in the text format.

Two kinds: what this process observed itself (``gnomon.metrics``; hand-offs of remote tries
whose start the execution API recorded, the process's own CPU and memory), and counts read
from the metadata database at scrape time, so that they are right whichever scheduler or
worker changed them and survive restarts. The counts are two ``GROUP BY`` queries.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gnomon.api.config import ApiConfig
from gnomon.api.deps import Config
from gnomon.semantics.states import TaskState
from gnomon.store import exceptions, stats

router = APIRouter(tags=["metrics"])


class DatabaseCollector:
    """Runs and task instances by state, and the queue depth, read when scraped."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "gnomon_database_up", "1 if the metadata database answered this scrape, else 0."
        )
        try:
            with self.config.read() as session:
                run_counts = stats.runs_by_state(session)
                instance_counts = stats.instances_by_state_in_active_runs(session)
        except exceptions.StoreError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        runs = GaugeMetricFamily("gnomon_dag_runs", "DAG runs by state.", labels=["state"])
        for state, count in run_counts.items():
            runs.add_metric([state.value], count)
        yield runs
        instances = GaugeMetricFamily(
            "gnomon_task_instances",
            "Task instances of queued and running DAG runs, by state.",
            labels=["state"],
        )
        for task_state, count in instance_counts.items():
            instances.add_metric([task_state.value], count)
        yield instances
        yield GaugeMetricFamily(
            "gnomon_queue_depth",
            "Task instances waiting for a slot: scheduled, not yet queued to an executor.",
            value=instance_counts[TaskState.SCHEDULED],
        )


class _Scrape:
    """This process's own metrics, then the database's."""

    def __init__(self, config: ApiConfig) -> None:
        self.parts: tuple[Collector, ...] = (REGISTRY, DatabaseCollector(config))

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()


@router.get("/metrics", include_in_schema=False)
def metrics(cfg: Config) -> Response:
    """Prometheus' text exposition format."""
    return Response(generate_latest(_Scrape(cfg)), media_type=CONTENT_TYPE_LATEST)
