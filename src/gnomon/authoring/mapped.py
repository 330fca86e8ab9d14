"""Dynamic task mapping: ``.partial(...).expand(...)`` makes one task instance per element."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gnomon.authoring import xcom_arg
from gnomon.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from gnomon.authoring.baseoperator import BaseOperator
    from gnomon.authoring.dag import DAG


class _Mapped:
    """Stands in the prototype operator for an argument that each map index sets."""

    def __repr__(self) -> str:
        return "<mapped>"


MAPPED: Any = _Mapped()


class MappedOperator:
    """A task expanded at run time into instances ``map_index`` 0..n-1, one per element.

    With several expand arguments the instances are their cross product. An empty input gives
    one skipped instance (map index -1). Everything else (retries, trigger rule, pool...) is
    the prototype's.
    """

    def __init__(self, prototype: BaseOperator, expand_input: Mapping[str, Any]) -> None:
        self.prototype = prototype
        self.expand_input: dict[str, Any] = dict(expand_input)
        where = f"DAG {prototype.dag.dag_id!r}, task {prototype.task_id!r}"
        if not self.expand_input:
            raise DagDefinitionError(f"{where}: expand() needs at least one argument")
        for name, value in self.expand_input.items():
            if isinstance(value, xcom_arg.XComArg):
                prototype.set_upstream(value)
            elif isinstance(value, list | tuple | dict):
                if xcom_arg.find(value):
                    raise DagDefinitionError(
                        f"{where}: expand argument {name!r} mixes task outputs into a literal; "
                        "expand over one task's output or over a literal list"
                    )
                try:
                    json.dumps(value)
                except TypeError:
                    raise DagDefinitionError(
                        f"{where}: expand argument {name!r} must be JSON-serializable"
                    ) from None
            else:
                raise DagDefinitionError(
                    f"{where}: expand argument {name!r} must be a list, a dict or a task's output, "
                    f"got {type(value).__name__}"
                )
        prototype.dag.replace_task(self)

    # The prototype answers for everything a task has (retries, pool, dependencies...).
    def __getattr__(self, name: str) -> Any:
        return getattr(self.prototype, name)

    @property
    def task_id(self) -> str:
        return self.prototype.task_id

    @property
    def dag(self) -> DAG:
        return self.prototype.dag

    @property
    def upstream_task_ids(self) -> set[str]:
        return self.prototype.upstream_task_ids

    @property
    def downstream_task_ids(self) -> set[str]:
        return self.prototype.downstream_task_ids

    @property
    def is_mapped(self) -> bool:
        return True

    @property
    def operator_name(self) -> str:
        return self.prototype.operator_name

    @property
    def output(self) -> xcom_arg.XComArg:
        return xcom_arg.XComArg(self)

    def dependency_targets(self, as_upstream: bool) -> list[MappedOperator]:
        return [self]

    def set_downstream(self, other: Any) -> None:
        self.prototype.set_downstream(other)

    def set_upstream(self, other: Any) -> None:
        self.prototype.set_upstream(other)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> MappedOperator:
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> MappedOperator:
        self.set_downstream(other)
        return self

    def unmap(self, values: Mapping[str, Any], map_index: int) -> BaseOperator:
        """The concrete operator of one map index, with the expanded arguments set."""
        hook = getattr(self.prototype, "apply_mapped_values", None)
        if hook is not None:
            concrete: BaseOperator = hook(values)
        else:
            concrete = copy.copy(self.prototype)
            for name, value in values.items():
                setattr(concrete, name, value)
        concrete.map_index = map_index
        return concrete

    def __repr__(self) -> str:
        return f"<mapped {self.operator_name} {self.task_id!r}>"


class OperatorPartial:
    """``SomeOperator.partial(task_id=..., **fixed)``: call ``.expand(**mapped)`` on it."""

    def __init__(self, operator_class: type[BaseOperator], kwargs: Mapping[str, Any]) -> None:
        self.operator_class = operator_class
        self.kwargs = dict(kwargs)
        if "task_id" not in self.kwargs:
            raise DagDefinitionError(f"{operator_class.__name__}.partial() needs a task_id")

    def expand(self, **expand_input: Any) -> MappedOperator:
        clash = set(expand_input) & set(self.kwargs)
        if clash:
            raise DagDefinitionError(
                f"task {self.kwargs['task_id']!r}: argument(s) {', '.join(sorted(clash))} given "
                "to both partial() and expand()"
            )
        prototype = self.operator_class(**self.kwargs, **{k: MAPPED for k in expand_input})
        return MappedOperator(prototype, expand_input)
