"""Which DAG and task group a newly created operator belongs to (the ``with`` blocks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gnomon.authoring.dag import DAG
    from gnomon.authoring.taskgroup import TaskGroup

_dags: list[DAG] = []
_groups: list[TaskGroup] = []
#: Every DAG constructed while a collector is active (the loader of a DAG file).
_collectors: list[list[DAG]] = []


def push_dag(dag: DAG) -> None:
    _dags.append(dag)


def pop_dag() -> None:
    _dags.pop()


def current_dag() -> DAG | None:
    return _dags[-1] if _dags else None


def push_group(group: TaskGroup) -> None:
    _groups.append(group)


def pop_group() -> None:
    _groups.pop()


def current_group() -> TaskGroup | None:
    return _groups[-1] if _groups else None


def start_collecting() -> list[DAG]:
    collected: list[DAG] = []
    _collectors.append(collected)
    return collected


def stop_collecting() -> None:
    _collectors.pop()


def register(dag: DAG) -> None:
    if _collectors:
        _collectors[-1].append(dag)
