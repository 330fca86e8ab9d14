"""DAG -> plain JSON, and its content hash (the DAG version)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from gnomon.authoring.dag import DAG
from gnomon.authoring.mapped import MAPPED, MappedOperator
from gnomon.authoring.params import DagParam
from gnomon.authoring.xcom_arg import XComArg
from gnomon.operators.empty import EmptyOperator

FORMAT_VERSION = 1

#: Parts of a serialized DAG that say where it was found, not what it is.
_LOCATION_KEYS = frozenset({"fileloc"})
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _seconds(value: Any) -> float | None:
    return None if value is None else value.total_seconds()


def jsonable(value: Any) -> Any:
    """A JSON-friendly rendering of an operator argument (for display and structure only)."""
    if isinstance(value, XComArg | DagParam):
        return value.to_json()
    if value is MAPPED:
        return "<mapped>"
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    # A default repr holds a memory address, which would change the DAG version every parse.
    return _ADDRESS.sub("", repr(value))


def _expand_json(task: MappedOperator) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in task.expand_input.items():
        if isinstance(value, XComArg):
            out[name] = {"xcom": {"task_id": value.operator.task_id, "key": value.key}}
        else:
            out[name] = {"literal": list(value) if isinstance(value, tuple) else value}
    return out


def serialize_task(task: Any) -> dict[str, Any]:
    operator = task.prototype if isinstance(task, MappedOperator) else task
    return {
        "operator": operator.operator_name,
        "module": type(operator).__module__,
        "upstream": sorted(operator.upstream_task_ids),
        "downstream": sorted(operator.downstream_task_ids),
        "trigger_rule": operator.trigger_rule.value,
        "retries": operator.retries,
        "retry_delay": operator.retry_delay.total_seconds(),
        "retry_exponential_backoff": operator.retry_exponential_backoff,
        "max_retry_delay": _seconds(operator.max_retry_delay),
        "execution_timeout": _seconds(operator.execution_timeout),
        "priority_weight": operator.priority_weight,
        "pool": operator.pool,
        "pool_slots": operator.pool_slots,
        "queue": operator.queue,
        "depends_on_past": operator.depends_on_past,
        "group": operator.task_group.group_id if operator.task_group else None,
        "is_empty": type(operator) is EmptyOperator,
        "expand": _expand_json(task) if isinstance(task, MappedOperator) else None,
        "fields": jsonable(operator.serialize_fields()),
        "doc_md": operator.doc_md,
    }


def serialize_dag(dag: DAG) -> dict[str, Any]:
    """The DAG as plain JSON; validates it first (cycles, unknown links)."""
    dag.validate()
    return {
        "format": FORMAT_VERSION,
        "dag_id": dag.dag_id,
        "fileloc": dag.fileloc,
        "schedule": dag.timetable.to_json(),
        "schedule_summary": dag.timetable.summary,
        "schedule_description": dag.timetable.description,
        "timezone": dag.timezone,
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "end_date": dag.end_date.isoformat() if dag.end_date else None,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "tags": list(dag.tags),
        "description": dag.description,
        "doc_md": dag.doc_md,
        "team": dag.team,
        "params": {name: p.to_json() for name, p in dag.params.items()},
        "task_groups": {
            gid: {
                "tooltip": g.tooltip,
                "parent": g.parent.group_id if g.parent else None,
                "tasks": [t.task_id for t in g.children],
            }
            for gid, g in dag.task_groups.items()
        },
        "tasks": {tid: serialize_task(t) for tid, t in dag.task_dict.items()},
        "order": dag.topological_order(),
    }


def content_hash(serialized: dict[str, Any]) -> str:
    """The version of a serialized DAG: sha256 of its canonical JSON, ignoring where the file
    lives (moving the DAGs folder does not make new versions)."""
    content = {k: v for k, v in serialized.items() if k not in _LOCATION_KEYS}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
