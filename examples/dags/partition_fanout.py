"""Fan out over partitions with dynamic mapping, then aggregate.

One mapped task instance per hourly partition of the data interval; the partitions are only
known at run time, from the interval of the run.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from gnomon import dag, get_current_context, task


@dag(
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    tags=["example", "mapping"],
    max_active_tasks=8,
)
def partition_fanout(hours: int = 24) -> None:
    """Count events per hourly partition of the day, in parallel, then sum them."""

    @task
    def list_partitions(hours: int) -> list[str]:
        start = get_current_context()["data_interval_start"]
        return [(start + timedelta(hours=h)).strftime("%Y-%m-%dT%H") for h in range(hours)]

    @task(retries=1, retry_delay=timedelta(seconds=2))
    def count_events(partition: str) -> dict[str, int]:
        # Stand-in for reading a partition: a stable pseudo-random count per partition.
        count = int(hashlib.sha256(partition.encode()).hexdigest()[:4], 16) % 1000
        return {"partition_events": count}

    @task
    def total(counts: list[dict[str, int]]) -> int:
        result = sum(c["partition_events"] for c in counts)
        print(f"{len(counts)} partitions, {result} events")
        return result

    total(count_events.expand(partition=list_partitions(hours)))


partition_fanout()
