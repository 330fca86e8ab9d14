"""XComArg: a reference to a task's result, passed to other tasks as an argument."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gnomon.authoring.baseoperator import BaseOperator
    from gnomon.authoring.mapped import MappedOperator

RETURN_VALUE = "return_value"


class XComArg:
    """The value task ``operator`` pushed under ``key`` (its return value by default).

    Passing it to another task makes that task downstream of ``operator``; at run time it is
    replaced by the value (a list of values, in map-index order, if ``operator`` is mapped).
    """

    def __init__(self, operator: BaseOperator | MappedOperator, key: str = RETURN_VALUE):
        self.operator = operator
        self.key = key

    def __getitem__(self, key: str) -> XComArg:
        """``output["a"]``: the XCom pushed under key ``a`` (see ``multiple_outputs``)."""
        return XComArg(self.operator, key)

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(
            f"the output of task {self.operator.task_id!r} is only known at run time: it cannot "
            "be iterated while the DAG is defined (use .expand() to map over it)"
        )

    def to_json(self) -> dict[str, Any]:
        return {"__xcomarg__": {"task_id": self.operator.task_id, "key": self.key}}

    def dependency_targets(self, as_upstream: bool) -> list[Any]:
        return [self.operator]

    def __rshift__(self, other: Any) -> Any:
        return self.operator >> other

    def __lshift__(self, other: Any) -> Any:
        return self.operator << other

    def __rrshift__(self, other: Any) -> XComArg:
        self.operator.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> XComArg:
        self.operator.set_downstream(other)
        return self

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, key={self.key!r})"


def find(value: Any) -> list[XComArg]:
    """Every XComArg inside ``value`` (nested lists, tuples, sets and dict values)."""
    if isinstance(value, XComArg):
        return [value]
    if isinstance(value, list | tuple | set):
        return [arg for item in value for arg in find(item)]
    if isinstance(value, dict):
        return [arg for item in value.values() for arg in find(item)]
    return []
