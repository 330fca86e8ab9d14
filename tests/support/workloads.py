"""Workloads for executor tests that never run them (a publisher's, a broker's)."""

from __future__ import annotations

from datetime import UTC, datetime

from gnomon.executors.base import Workload
from gnomon.runtime.protocol import TryRequest


def workload(try_id: int, queue: str = "default") -> Workload:
    """Try ``try_id`` of task ``t<try_id>``, on ``queue``."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Workload(
        try_id=try_id,
        run_pk=1,
        request=TryRequest("dag", f"t{try_id}", -1, 1, "r", now, now, now),
        dag_version_id=1,
        version_hash="0" * 64,
        fileloc="dag.py",
        dags_folder="/dags",
        log_path="/logs/try.log",
        timeout=None,
        queue=queue,
    )
