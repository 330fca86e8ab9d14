"""Task groups: a named box of tasks whose ids are prefixed ``group.task``."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gnomon.authoring import contexts
from gnomon.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from gnomon.authoring.baseoperator import BaseOperator
    from gnomon.authoring.dag import DAG


class TaskGroup:
    """Group tasks under ``group_id``; their ids become ``group_id.task_id``.

    ``group >> task`` links the group's leaves to ``task``; ``task >> group`` links ``task`` to
    the group's roots. Groups nest; ``prefix_group_id=False`` keeps the tasks' own ids.
    """

    def __init__(
        self,
        group_id: str,
        *,
        prefix_group_id: bool = True,
        tooltip: str = "",
        dag: DAG | None = None,
    ) -> None:
        if not group_id or not all(c.isalnum() or c in "_-" for c in group_id):
            raise DagDefinitionError(
                f"invalid task group id {group_id!r}: use letters, digits, '_' and '-'"
            )
        self.parent = contexts.current_group()
        owner = dag or (self.parent.dag if self.parent else contexts.current_dag())
        if owner is None:
            raise DagDefinitionError(f"task group {group_id!r} must be created inside a DAG")
        self.dag: DAG = owner
        self._group_id = group_id
        self.prefix_group_id = prefix_group_id
        self.tooltip = tooltip
        self.children: list[BaseOperator] = []
        self.dag.add_group(self)

    @property
    def group_id(self) -> str:
        """The full id, including the parent groups' ids."""
        if self.parent is not None and self.parent.prefix_group_id:
            return f"{self.parent.group_id}.{self._group_id}"
        return self._group_id

    def child_id(self, task_id: str) -> str:
        return f"{self.group_id}.{task_id}" if self.prefix_group_id else task_id

    def add(self, task: BaseOperator) -> None:
        self.children.append(task)
        if self.parent is not None:
            self.parent.add(task)

    @property
    def roots(self) -> list[BaseOperator]:
        ids = {t.task_id for t in self.children}
        return [t for t in self.children if not (t.upstream_task_ids & ids)]

    @property
    def leaves(self) -> list[BaseOperator]:
        ids = {t.task_id for t in self.children}
        return [t for t in self.children if not (t.downstream_task_ids & ids)]

    def __enter__(self) -> TaskGroup:
        contexts.push_group(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        contexts.pop_group()

    # Dependencies: a group stands for its roots when downstream, its leaves when upstream.
    def __rshift__(self, other: Any) -> Any:
        for leaf in self.leaves:
            leaf.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        for root in self.roots:
            root.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> TaskGroup:
        self.__lshift__(other)
        return self

    def __rlshift__(self, other: Any) -> TaskGroup:
        self.__rshift__(other)
        return self

    def dependency_targets(self, as_upstream: bool) -> Sequence[BaseOperator]:
        return self.leaves if as_upstream else self.roots
