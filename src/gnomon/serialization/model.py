"""Typed, read-only views of a serialized DAG (no authoring imports: control-plane safe)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gnomon.semantics.trigger_rules import TriggerRule


def _td(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class ExpandInput:
    """One argument of ``expand()``: a literal list/dict, or another task's XCom."""

    name: str
    literal: list[Any] | dict[str, Any] | None = None
    xcom_task_id: str | None = None
    xcom_key: str = "return_value"

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> ExpandInput:
        if "xcom" in data:
            return cls(name, xcom_task_id=data["xcom"]["task_id"], xcom_key=data["xcom"]["key"])
        return cls(name, literal=data["literal"])


@dataclass(frozen=True, slots=True)
class SerializedTask:
    task_id: str
    operator: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    trigger_rule: TriggerRule
    retries: int
    retry_delay: timedelta
    retry_exponential_backoff: bool
    max_retry_delay: timedelta | None
    execution_timeout: timedelta | None
    priority_weight: int
    pool: str
    pool_slots: int
    queue: str
    depends_on_past: bool
    group: str | None
    is_empty: bool
    expand: tuple[ExpandInput, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)
    doc_md: str | None = None

    @property
    def is_mapped(self) -> bool:
        return bool(self.expand)

    @classmethod
    def from_json(cls, task_id: str, data: Mapping[str, Any]) -> SerializedTask:
        return cls(
            task_id=task_id,
            operator=data["operator"],
            upstream=tuple(data["upstream"]),
            downstream=tuple(data["downstream"]),
            trigger_rule=TriggerRule(data["trigger_rule"]),
            retries=data["retries"],
            retry_delay=timedelta(seconds=data["retry_delay"]),
            retry_exponential_backoff=data["retry_exponential_backoff"],
            max_retry_delay=_td(data["max_retry_delay"]),
            execution_timeout=_td(data["execution_timeout"]),
            priority_weight=data["priority_weight"],
            pool=data["pool"],
            pool_slots=data["pool_slots"],
            queue=data["queue"],
            depends_on_past=data["depends_on_past"],
            group=data["group"],
            is_empty=data["is_empty"],
            expand=tuple(
                ExpandInput.from_json(name, spec)
                for name, spec in (data.get("expand") or {}).items()
            ),
            fields=data.get("fields", {}),
            doc_md=data.get("doc_md"),
        )


@dataclass(frozen=True, slots=True)
class SerializedDag:
    dag_id: str
    fileloc: str
    schedule: Mapping[str, Any]
    timezone: str
    start_date: datetime | None
    end_date: datetime | None
    catchup: bool
    max_active_runs: int
    max_active_tasks: int
    tags: tuple[str, ...]
    description: str | None
    doc_md: str | None
    team: str | None
    params: Mapping[str, Mapping[str, Any]]
    tasks: Mapping[str, SerializedTask]
    task_groups: Mapping[str, Mapping[str, Any]]
    #: Task ids, upstream before downstream.
    order: tuple[str, ...]
    #: Whether a task is mapped (``expand``): only then does planning read XCom lengths.
    has_mapped: bool = field(init=False, default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "has_mapped", any(t.is_mapped for t in self.tasks.values()))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SerializedDag:
        return cls(
            dag_id=data["dag_id"],
            fileloc=data["fileloc"],
            schedule=data["schedule"],
            timezone=data["timezone"],
            start_date=_dt(data["start_date"]),
            end_date=_dt(data["end_date"]),
            catchup=data["catchup"],
            max_active_runs=data["max_active_runs"],
            max_active_tasks=data["max_active_tasks"],
            tags=tuple(data["tags"]),
            description=data.get("description"),
            doc_md=data.get("doc_md"),
            team=data.get("team"),
            params=data["params"],
            tasks={tid: SerializedTask.from_json(tid, t) for tid, t in data["tasks"].items()},
            task_groups=data.get("task_groups", {}),
            order=tuple(data["order"]),
        )

    @property
    def leaves(self) -> list[str]:
        return [tid for tid, t in self.tasks.items() if not t.downstream]

    def downstream_map(self) -> dict[str, tuple[str, ...]]:
        return {tid: t.downstream for tid, t in self.tasks.items()}

    def group_roots(self) -> dict[str, list[str]]:
        """For each task group, its tasks with no upstream inside the group."""
        out: dict[str, list[str]] = {}
        for group_id, group in self.task_groups.items():
            members = set(group["tasks"])
            out[group_id] = [
                tid for tid in group["tasks"] if not set(self.tasks[tid].upstream) & members
            ]
        return out
