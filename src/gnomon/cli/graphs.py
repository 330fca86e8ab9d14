"""A serialized DAG as text: Graphviz dot, and the rows of ``gnomon dags show``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any


def escape(text: str) -> str:
    """``text`` for the inside of a dot double-quoted string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def quote(text: str) -> str:
    """A dot double-quoted string."""
    return f'"{escape(text)}"'


def to_dot(serialized: Mapping[str, Any]) -> str:
    """Tasks as nodes, edges upstream -> downstream, task groups as (nested) clusters."""
    tasks: Mapping[str, Mapping[str, Any]] = serialized["tasks"]
    groups: Mapping[str, Mapping[str, Any]] = serialized.get("task_groups", {})
    child_groups: dict[str | None, list[str]] = defaultdict(list)
    for group_id, group in groups.items():
        child_groups[group.get("parent")].append(group_id)
    members: dict[str | None, list[str]] = defaultdict(list)
    for task_id in serialized["order"]:
        members[tasks[task_id]["group"]].append(task_id)

    lines = [f"digraph {quote(serialized['dag_id'])} {{", "  rankdir=LR;"]
    lines.append('  node [shape=box, style="rounded,filled", fillcolor="#ffffff"];')

    def emit(group_id: str | None, indent: str) -> None:
        for child in sorted(child_groups[group_id]):
            lines.append(f"{indent}subgraph {quote('cluster_' + child)} {{")
            lines.append(f"{indent}  label={quote(child)};")
            emit(child, indent + "  ")
            lines.append(f"{indent}}}")
        for task_id in members[group_id]:
            # dot's own "\n" escape (a line break) between the id and the operator:
            label = f'"{escape(task_id)}\\n{escape(tasks[task_id]["operator"])}"'
            lines.append(f"{indent}{quote(task_id)} [label={label}];")

    emit(None, "  ")
    for task_id in serialized["order"]:
        for downstream in tasks[task_id]["downstream"]:
            lines.append(f"  {quote(task_id)} -> {quote(downstream)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def task_rows(serialized: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(task, operator, upstream, trigger rule, group) per task, upstream first."""
    tasks: Mapping[str, Mapping[str, Any]] = serialized["tasks"]
    return [
        (
            task_id,
            tasks[task_id]["operator"],
            ", ".join(tasks[task_id]["upstream"]),
            tasks[task_id]["trigger_rule"],
            tasks[task_id]["group"] or "",
        )
        for task_id in serialized["order"]
    ]
