"""What a local run reports: each task instance and each of its tries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gnomon.semantics.planning import TIKey
from gnomon.semantics.states import RunState, TaskState


@dataclass
class TryRecord:
    try_number: int
    state: TaskState
    start_date: datetime
    end_date: datetime
    exit_reason: str
    error: str | None
    pid: int
    log_path: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "try_number": self.try_number,
            "state": self.state.value,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "duration": (self.end_date - self.start_date).total_seconds(),
            "exit_reason": self.exit_reason,
            "error": self.error,
            "pid": self.pid,
            "log": self.log_path,
        }


@dataclass
class TaskInstanceRecord:
    key: TIKey
    state: TaskState = TaskState.NONE
    try_number: int = 0
    retry_at: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    note: str | None = None
    tries: list[TryRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        duration = None
        if self.start_date and self.end_date:
            duration = (self.end_date - self.start_date).total_seconds()
        return {
            "task_id": self.key.task_id,
            "map_index": self.key.map_index,
            "state": self.state.value,
            "try_number": self.try_number,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "duration": duration,
            "note": self.note,
            "tries": [t.to_json() for t in self.tries],
        }


@dataclass
class RunReport:
    dag_id: str
    run_id: str
    state: RunState
    logical_date: datetime
    tasks: list[TaskInstanceRecord]

    def to_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "state": self.state.value,
            "logical_date": self.logical_date.isoformat(),
            "tasks": [t.to_json() for t in self.tasks],
        }

    def rows(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in t.to_json().items() if k != "tries"} for t in self.tasks]
