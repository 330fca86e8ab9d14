"""What a control plane sends to run one try, and what the try reports back (plain JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gnomon.semantics.states import TaskState


@dataclass(frozen=True, slots=True)
class TryRequest:
    dag_id: str
    task_id: str
    map_index: int
    try_number: int
    run_id: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    conf: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    run_type: str = "manual"
    max_tries: int = 1

    def to_json(self) -> dict[str, Any]:
        # Field by field: ``dataclasses.asdict`` deep-copies conf and params, which costs
        # more than the rest of a try's hand-off to its process (the JSON is made and sent).
        return {
            "dag_id": self.dag_id,
            "task_id": self.task_id,
            "map_index": self.map_index,
            "try_number": self.try_number,
            "run_id": self.run_id,
            "logical_date": self.logical_date.isoformat(),
            "data_interval_start": self.data_interval_start.isoformat(),
            "data_interval_end": self.data_interval_end.isoformat(),
            "conf": dict(self.conf),
            "params": dict(self.params),
            "run_type": self.run_type,
            "max_tries": self.max_tries,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TryRequest:
        values = dict(data)
        for name in ("logical_date", "data_interval_start", "data_interval_end"):
            values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TryOutcome:
    """How one try ended. ``state`` is success, skipped or failed; whether a failure is retried
    is the control plane's decision (``semantics.retries.after_failure`` with ``retryable``)."""

    state: TaskState
    exit_reason: str
    retryable: bool = True
    error: str | None = None
    xcoms: Mapping[str, Any] = field(default_factory=dict)
    #: For each pushed key: the value's length if it is a list or dict (mapping input), else None.
    xcom_lengths: Mapping[str, int | None] = field(default_factory=dict)
    #: Task ids a branch or short-circuit decided to skip.
    skip: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "exit_reason": self.exit_reason,
            "retryable": self.retryable,
            "error": self.error,
            "xcoms": dict(self.xcoms),
            "xcom_lengths": dict(self.xcom_lengths),
            "skip": list(self.skip),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TryOutcome:
        return cls(
            state=TaskState(data["state"]),
            exit_reason=data["exit_reason"],
            retryable=data["retryable"],
            error=data.get("error"),
            xcoms=data.get("xcoms", {}),
            xcom_lengths=data.get("xcom_lengths", {}),
            skip=tuple(data.get("skip", ())),
        )

    @classmethod
    def crashed(cls, reason: str, *, retryable: bool = True) -> TryOutcome:
        return cls(TaskState.FAILED, reason, retryable=retryable, error=reason)


class XComSource(Protocol):
    """Read access to the run's XComs, for the running try."""

    def pull(self, task_id: str, key: str) -> Mapping[int, Any]:
        """Values pushed by ``task_id`` under ``key``, by map index (-1 when unmapped)."""
        ...
