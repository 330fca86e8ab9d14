"""Operators that call a Python function."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from gnomon.authoring import callables
from gnomon.authoring.baseoperator import BaseOperator
from gnomon.authoring.mapped import MAPPED
from gnomon.exceptions import DagDefinitionError


class PythonOperator(BaseOperator):
    """Call ``python_callable(*op_args, **op_kwargs)``; its return value becomes the XCom.

    Context values named in the callable's signature (``ds``, ``ti``, ``params``...) are passed
    too. ``op_args``, ``op_kwargs`` and ``templates_dict`` are rendered with Jinja2 first.
    """

    template_fields: ClassVar[Sequence[str]] = ("templates_dict", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: Mapping[str, Any] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if python_callable is not MAPPED and not callable(python_callable):
            raise DagDefinitionError(
                f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: python_callable must be "
                f"callable, got {python_callable!r}"
            )
        self.python_callable = python_callable
        if python_callable is not MAPPED:
            callables.prepare(python_callable)
        self.op_args: Any = list(op_args or []) if op_args is not MAPPED else MAPPED
        self.op_kwargs: Any = dict(op_kwargs or {}) if op_kwargs is not MAPPED else MAPPED
        self.templates_dict = templates_dict
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: Mapping[str, Any]) -> Any:
        call_context = dict(context)
        if self.templates_dict is not None:
            call_context["templates_dict"] = self.templates_dict
        return callables.call_with_context(
            self.python_callable, self.op_args, self.op_kwargs, call_context
        )

    def serialize_fields(self) -> dict[str, Any]:
        fields = super().serialize_fields()
        fields["python_callable"] = getattr(
            self.python_callable, "__qualname__", repr(self.python_callable)
        )
        return fields


class BranchMixin:
    """Operators that choose which downstream tasks run after them."""

    task_id: str

    def branch_choice(self, result: Any) -> list[str] | None:
        """Task or group ids to follow (others directly downstream are skipped); None: all."""
        raise NotImplementedError


def normalize_branch(result: Any, task_id: str) -> list[str]:
    if result is None:
        return []
    if isinstance(result, str):
        return [result]
    if isinstance(result, Iterable) and all(isinstance(x, str) for x in result):
        return list(result)
    raise TypeError(
        f"branch task {task_id!r} must return a task id, a list of task ids or None, got {result!r}"
    )


class BranchPythonOperator(PythonOperator, BranchMixin):
    """Call the function; it returns the task id (or ids, or None) to follow.

    Tasks directly downstream that were not chosen are skipped; skips then propagate under
    their trigger rules (join branches with ``none_failed_min_one_success``).
    """

    def branch_choice(self, result: Any) -> list[str] | None:
        return normalize_branch(result, self.task_id)


class ShortCircuitOperator(PythonOperator):
    """Call the function; if it returns a falsy value, skip what follows.

    With ``ignore_downstream_trigger_rules=True`` (default) every downstream task is skipped;
    with False only the direct downstream tasks are, and the rest follow their trigger rules.
    """

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules
