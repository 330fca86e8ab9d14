"""TaskFlow: ``@task`` turns a function into a task whose return value flows to others."""

from __future__ import annotations

import copy
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar

from gnomon.authoring import contexts, mapped, xcom_arg
from gnomon.authoring.params import DagParam
from gnomon.exceptions import DagDefinitionError
from gnomon.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)

P = ParamSpec("P")
R = TypeVar("R")


class _DecoratedMixin:
    """Shared by decorated operators: mapped values become the function's keyword arguments."""

    op_kwargs: Any

    def apply_mapped_values(self, values: Mapping[str, Any]) -> Any:
        concrete = copy.copy(self)
        concrete.op_kwargs = {**self.op_kwargs, **values}
        return concrete


class DecoratedPythonOperator(_DecoratedMixin, PythonOperator):
    """The operator behind ``@task``."""

    def __init__(self, *, multiple_outputs: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiple_outputs = multiple_outputs


class DecoratedBranchOperator(_DecoratedMixin, BranchPythonOperator):
    """The operator behind ``@task.branch``."""

    def __init__(self, *, multiple_outputs: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiple_outputs = multiple_outputs


class DecoratedShortCircuitOperator(_DecoratedMixin, ShortCircuitOperator):
    """The operator behind ``@task.short_circuit``."""

    def __init__(self, *, multiple_outputs: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiple_outputs = multiple_outputs


def _returns_dict(func: Callable[..., Any]) -> bool:
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        return False
    ret = hints.get("return")
    origin = typing.get_origin(ret) or ret
    return origin in (dict, Mapping) or origin is typing.Dict  # noqa: UP006


class TaskDecorator(Generic[P, R]):
    """A function made into a task factory: call it in a DAG to add a task."""

    def __init__(
        self,
        func: Callable[P, R],
        operator_class: type[PythonOperator],
        kwargs: Mapping[str, Any],
    ) -> None:
        self.function = func
        self.operator_class = operator_class
        self.kwargs = dict(kwargs)
        self.kwargs.setdefault("multiple_outputs", _returns_dict(func))
        functools.update_wrapper(self, func)

    def _task_id(self) -> str:
        requested = self.kwargs.get("task_id") or self.function.__name__
        group = contexts.current_group()
        dag = contexts.current_dag() or (group.dag if group else None)
        if dag is None:
            raise DagDefinitionError(
                f"task {requested!r} was called outside a DAG: call it inside `with DAG(...)` "
                "or a @dag function"
            )
        full = group.child_id(requested) if group else requested
        unique = dag.unique_task_id(full)
        return unique[len(group.group_id) + 1 :] if group and group.prefix_group_id else unique

    def _check_arguments(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        try:
            inspect.signature(self.function).bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise DagDefinitionError(f"task {self.function.__name__!r}: {exc}") from None

    def _operator_kwargs(self) -> dict[str, Any]:
        kwargs = {k: v for k, v in self.kwargs.items() if k != "task_id"}
        kwargs["task_id"] = self._task_id()
        kwargs["python_callable"] = self.function
        return kwargs

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> xcom_arg.XComArg:
        self._check_arguments(args, kwargs)
        operator = self.operator_class(**self._operator_kwargs(), op_args=args, op_kwargs=kwargs)
        _link_inputs(operator, [*args, *kwargs.values()])
        return xcom_arg.XComArg(operator)

    def override(self, **kwargs: Any) -> TaskDecorator[P, R]:
        """A copy with other task arguments (``task_id``, ``retries``...)."""
        return TaskDecorator(self.function, self.operator_class, {**self.kwargs, **kwargs})

    def partial(self, **kwargs: Any) -> _TaskPartial:
        """Fix some of the function's arguments; ``.expand(...)`` maps over the rest."""
        return _TaskPartial(self, kwargs)

    def expand(self, **expand_input: Any) -> xcom_arg.XComArg:
        """One task instance per element (cross product over several arguments)."""
        return _TaskPartial(self, {}).expand(**expand_input)


class _TaskPartial:
    def __init__(self, decorator: TaskDecorator[Any, Any], kwargs: Mapping[str, Any]) -> None:
        self.decorator = decorator
        self.kwargs = dict(kwargs)

    def expand(self, **expand_input: Any) -> xcom_arg.XComArg:
        name = self.decorator.function.__name__
        clash = set(expand_input) & set(self.kwargs)
        if clash:
            raise DagDefinitionError(
                f"task {name!r}: argument(s) {', '.join(sorted(clash))} given to both partial() "
                "and expand()"
            )
        self.decorator._check_arguments((), {**self.kwargs, **expand_input})
        operator = self.decorator.operator_class(
            **self.decorator._operator_kwargs(), op_args=(), op_kwargs=self.kwargs
        )
        _link_inputs(operator, list(self.kwargs.values()))
        return xcom_arg.XComArg(mapped.MappedOperator(operator, expand_input))


def _link_inputs(operator: PythonOperator, values: list[Any]) -> None:
    for arg in xcom_arg.find(values):
        operator.set_upstream(arg.operator)
    for value in values:
        if isinstance(value, DagParam) and value.name not in operator.dag.params:
            raise DagDefinitionError(f"task {operator.task_id!r}: unknown param {value.name!r}")


class _TaskFactory:
    """``@task``, ``@task(...)``, ``@task.branch``, ``@task.short_circuit``."""

    def _make(self, operator_class: type[PythonOperator], func: Any, kwargs: dict[str, Any]) -> Any:
        if func is not None:
            if not callable(func):
                raise DagDefinitionError(f"@task must decorate a function, got {func!r}")
            return TaskDecorator(func, operator_class, kwargs)
        return lambda f: TaskDecorator(f, operator_class, kwargs)

    def __call__(self, python_callable: Any = None, **kwargs: Any) -> Any:
        return self._make(DecoratedPythonOperator, python_callable, kwargs)

    def branch(self, python_callable: Any = None, **kwargs: Any) -> Any:
        return self._make(DecoratedBranchOperator, python_callable, kwargs)

    def short_circuit(self, python_callable: Any = None, **kwargs: Any) -> Any:
        return self._make(DecoratedShortCircuitOperator, python_callable, kwargs)


task = _TaskFactory()
