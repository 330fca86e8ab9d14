"""The context a running task sees: dates, run, params, and its task instance (``ti``)."""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from gnomon.authoring.xcom_arg import RETURN_VALUE
from gnomon.exceptions import XComError
from gnomon.runtime import macros
from gnomon.runtime.protocol import TryRequest, XComSource


@dataclass(frozen=True)
class DagRunHandle:
    """``context["dag_run"]``: the run this try belongs to."""

    dag_id: str
    run_id: str
    run_type: str
    conf: Mapping[str, Any]
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime


class TaskInstanceHandle:
    """``context["ti"]``: this try's task instance; pushes and pulls XComs."""

    def __init__(
        self,
        request: TryRequest,
        xcoms: XComSource,
        mapped_tasks: Container[str],
        max_xcom_bytes: int,
    ) -> None:
        self.dag_id = request.dag_id
        self.task_id = request.task_id
        self.run_id = request.run_id
        self.map_index = request.map_index
        self.try_number = request.try_number
        self.max_tries = request.max_tries
        self._xcoms = xcoms
        #: Which task ids are mapped (asked only for the tasks pulled from).
        self._mapped = mapped_tasks
        self._max_bytes = max_xcom_bytes
        #: Values pushed by this try, sent back with its outcome.
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serializable) under ``key`` for downstream tasks."""
        try:
            encoded = json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise XComError(
                f"task {self.task_id!r}: XCom {key!r} is not JSON-serializable: {exc}"
            ) from None
        if len(encoded.encode()) > self._max_bytes:
            raise XComError(
                f"task {self.task_id!r}: XCom {key!r} is {len(encoded.encode())} bytes, over the "
                f"limit of {self._max_bytes} (GNOMON_XCOM_MAX_BYTES); store large data elsewhere "
                "and pass a reference"
            )
        self.pushed[key] = json.loads(encoded)

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        key: str = RETURN_VALUE,
        map_indexes: int | Iterable[int] | None = None,
        default: Any = None,
    ) -> Any:
        """The value ``task_ids`` pushed under ``key`` (a list for several ids, or for a
        mapped task: its instances' values in map-index order). Missing values give
        ``default``."""
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            return self._pull_one(task_ids, key, map_indexes, default)
        return [self._pull_one(tid, key, map_indexes, default) for tid in task_ids]

    def _pull_one(
        self, task_id: str, key: str, map_indexes: int | Iterable[int] | None, default: Any
    ) -> Any:
        if task_id == self.task_id and key in self.pushed:
            return self.pushed[key]
        values = self._xcoms.pull(task_id, key)
        if isinstance(map_indexes, int):
            return values.get(map_indexes, default)
        if map_indexes is not None:
            return [values.get(i, default) for i in map_indexes]
        if task_id in self._mapped:
            return [values[i] for i in sorted(values) if i >= 0]
        return values.get(-1, default)

    def __repr__(self) -> str:
        return (
            f"<TaskInstance {self.dag_id}.{self.task_id}[{self.map_index}] try {self.try_number}>"
        )


def build_context(
    dag: Any, task: Any, request: TryRequest, ti: TaskInstanceHandle
) -> dict[str, Any]:
    """The template and ``get_current_context()`` context of one try."""
    logical_date = request.logical_date
    dag_run = DagRunHandle(
        dag_id=request.dag_id,
        run_id=request.run_id,
        run_type=request.run_type,
        conf=MappingProxyType(dict(request.conf)),
        logical_date=logical_date,
        data_interval_start=request.data_interval_start,
        data_interval_end=request.data_interval_end,
    )
    return {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "dag_run": dag_run,
        "run_id": request.run_id,
        "params": dict(request.params),
        "logical_date": logical_date,
        "ds": logical_date.strftime("%Y-%m-%d"),
        "ds_nodash": logical_date.strftime("%Y%m%d"),
        "ts": logical_date.isoformat(),
        "ts_nodash": logical_date.strftime("%Y%m%dT%H%M%S"),
        "data_interval_start": request.data_interval_start,
        "data_interval_end": request.data_interval_end,
        "map_index": request.map_index,
        "macros": macros,
    }
