"""Response and request bodies shared by several routers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from gnomon.semantics.states import RunState
from gnomon.store import runs


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """How long something that started and ended took; None until it has done both."""
    return (end - start).total_seconds() if start and end else None


class RunSummary(BaseModel):
    """A DAG run (the fields of ``gnomon runs list --output json``)."""

    dag_id: str
    run_id: str
    run_type: str
    state: RunState
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime
    conf: dict[str, Any]
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    dag_version_id: int

    @classmethod
    def of(cls, run: runs.Run) -> RunSummary:
        return cls(
            dag_id=run.dag_id,
            run_id=run.run_id,
            run_type=run.run_type.value,
            state=run.state,
            logical_date=run.logical_date,
            data_interval_start=run.data_interval_start,
            data_interval_end=run.data_interval_end,
            run_after=run.run_after,
            conf=run.conf,
            queued_at=run.queued_at,
            start_date=run.start_date,
            end_date=run.end_date,
            duration=seconds_between(run.start_date, run.end_date),
            dag_version_id=run.dag_version_id,
        )
