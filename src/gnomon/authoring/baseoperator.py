"""BaseOperator: the task arguments every operator shares, and dependencies (``>>``)."""

from __future__ import annotations

import inspect
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from gnomon.authoring import contexts, mapped, xcom_arg
from gnomon.exceptions import DagDefinitionError
from gnomon.semantics import trigger_rules

if TYPE_CHECKING:
    from gnomon.authoring.dag import DAG
    from gnomon.authoring.taskgroup import TaskGroup

Callback = Callable[[Mapping[str, Any]], object]

TASK_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")

#: Arguments every operator accepts (directly or through ``default_args``).
BASE_ARGS: frozenset[str] = frozenset(
    {
        "task_id",
        "retries",
        "retry_delay",
        "retry_exponential_backoff",
        "max_retry_delay",
        "execution_timeout",
        "trigger_rule",
        "priority_weight",
        "pool",
        "pool_slots",
        "queue",
        "depends_on_past",
        "on_success_callback",
        "on_failure_callback",
        "on_retry_callback",
        "doc_md",
        "owner",
        "email",
    }
)


def _accepted_args(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
                names.add(param.name)
    return names


class OperatorMeta(type):
    """Applies the DAG's ``default_args`` before ``__init__``, as Airflow users expect."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        dag = kwargs.get("dag") or contexts.current_dag()
        defaults: Mapping[str, Any] = dag.default_args if dag is not None else {}
        if defaults:
            accepted = _accepted_args(cls) | BASE_ARGS
            merged = {k: v for k, v in defaults.items() if k in accepted}
            merged.update(kwargs)
            kwargs = merged
        return super().__call__(*args, **kwargs)


class BaseOperator(metaclass=OperatorMeta):
    """A task: one unit of work in a DAG. Subclasses implement ``execute(context)``.

    Every argument below may also come from the DAG's ``default_args``.
    """

    #: Attributes rendered with Jinja2 before ``execute``.
    template_fields: ClassVar[Sequence[str]] = ()
    #: The operator kind recorded in the serialized DAG (defaults to the class name).
    ui_color: ClassVar[str] = "#ffffff"

    def __init__(
        self,
        *,
        task_id: str,
        retries: int = 0,
        retry_delay: timedelta | float = timedelta(minutes=5),
        retry_exponential_backoff: bool = False,
        max_retry_delay: timedelta | float | None = None,
        execution_timeout: timedelta | float | None = None,
        trigger_rule: str = "all_success",
        priority_weight: int = 1,
        pool: str = "default_pool",
        pool_slots: int = 1,
        queue: str = "default",
        depends_on_past: bool = False,
        on_success_callback: Callback | None = None,
        on_failure_callback: Callback | None = None,
        on_retry_callback: Callback | None = None,
        doc_md: str | None = None,
        owner: str = "gnomon",
        email: str | Sequence[str] | None = None,
        dag: DAG | None = None,
        task_group: TaskGroup | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            names = ", ".join(sorted(unknown))
            raise DagDefinitionError(
                f"task {task_id!r} ({type(self).__name__}): unexpected argument(s) {names}"
            )
        group = task_group or contexts.current_group()
        dag = dag or (group.dag if group else None) or contexts.current_dag()
        if dag is None:
            raise DagDefinitionError(
                f"task {task_id!r} was created outside a DAG: create it inside `with DAG(...)`, "
                "a @dag function, or pass dag=..."
            )
        if not isinstance(task_id, str) or not TASK_ID_RE.match(task_id):
            raise DagDefinitionError(
                f"DAG {dag.dag_id!r}: invalid task id {task_id!r}: use letters, digits, '_', "
                "'-' and '.'"
            )
        self.task_id: str = group.child_id(task_id) if group else task_id
        where = f"DAG {dag.dag_id!r}, task {self.task_id!r}"
        try:
            self.trigger_rule = trigger_rules.parse(trigger_rule)
        except ValueError as exc:
            raise DagDefinitionError(f"{where}: {exc}") from None
        self.retries = _non_negative_int(retries, "retries", where)
        self.retry_delay = _duration(retry_delay, "retry_delay", where)
        self.retry_exponential_backoff = bool(retry_exponential_backoff)
        self.max_retry_delay = _optional_duration(max_retry_delay, "max_retry_delay", where)
        self.execution_timeout = _optional_duration(execution_timeout, "execution_timeout", where)
        if self.execution_timeout is not None and self.execution_timeout <= timedelta(0):
            raise DagDefinitionError(f"{where}: execution_timeout must be positive")
        if not isinstance(priority_weight, int):
            raise DagDefinitionError(f"{where}: priority_weight must be an integer")
        self.priority_weight = priority_weight
        self.pool = pool
        self.pool_slots = _non_negative_int(pool_slots, "pool_slots", where)
        if self.pool_slots < 1:
            raise DagDefinitionError(f"{where}: pool_slots must be at least 1")
        self.queue = queue
        self.depends_on_past = bool(depends_on_past)
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        self.on_retry_callback = on_retry_callback
        self.doc_md = doc_md
        self.owner = owner
        self.email = email
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        self.dag: DAG = dag
        self.task_group = group
        #: Set on the concrete operator a mapped task creates for one map index.
        self.map_index = -1
        dag.add_task(self)
        if group is not None:
            group.add(self)

    @classmethod
    def partial(cls, **kwargs: Any) -> mapped.OperatorPartial:
        """Fix some arguments; ``.expand(**lists)`` then maps the task over the rest."""
        return mapped.OperatorPartial(cls, kwargs)

    # -- what runs ---------------------------------------------------------------------------
    def execute(self, context: Mapping[str, Any]) -> Any:
        """Do the work; the return value becomes the ``return_value`` XCom."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute(context)")

    def on_kill(self) -> None:
        """Clean up when the try is killed (timeout). Override to stop external work."""

    @property
    def operator_name(self) -> str:
        return type(self).__name__

    @property
    def is_mapped(self) -> bool:
        return False

    @property
    def output(self) -> xcom_arg.XComArg:
        """The task's return value, to pass to other tasks as an argument."""
        return xcom_arg.XComArg(self)

    def dependency_targets(self, as_upstream: bool) -> list[BaseOperator]:
        return [self]

    def serialize_fields(self) -> dict[str, Any]:
        """Operator-specific arguments for the serialized DAG (JSON-friendly)."""
        return {name: getattr(self, name, None) for name in self.template_fields}

    # -- dependencies ------------------------------------------------------------------------
    def set_downstream(self, other: Any) -> None:
        for task in _operators(other, as_upstream=False):
            self._link(self, task)

    def set_upstream(self, other: Any) -> None:
        for task in _operators(other, as_upstream=True):
            self._link(task, self)

    @staticmethod
    def _link(
        up: BaseOperator | mapped.MappedOperator, down: BaseOperator | mapped.MappedOperator
    ) -> None:
        if up.dag is not down.dag:
            raise DagDefinitionError(
                f"cannot link task {up.task_id!r} of DAG {up.dag.dag_id!r} to task "
                f"{down.task_id!r} of DAG {down.dag.dag_id!r}: tasks must be in the same DAG"
            )
        if up is down:
            raise DagDefinitionError(
                f"DAG {up.dag.dag_id!r}: task {up.task_id!r} cannot depend on itself"
            )
        up.downstream_task_ids.add(down.task_id)
        down.upstream_task_ids.add(up.task_id)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> BaseOperator:
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> BaseOperator:
        self.set_downstream(other)
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.task_id!r}>"


def _operators(value: Any, as_upstream: bool) -> list[Any]:
    """The operators a dependency operand stands for (operator, XComArg, group, or a list)."""
    if isinstance(value, list | tuple | set):
        out: list[Any] = []
        for item in value:
            out.extend(_operators(item, as_upstream))
        return out
    targets = getattr(value, "dependency_targets", None)
    if targets is None:
        raise DagDefinitionError(
            f"cannot set a dependency on {value!r}: expected a task, a task output, a "
            "TaskGroup or a list of them"
        )
    return list(targets(as_upstream))


def _non_negative_int(value: Any, name: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DagDefinitionError(f"{where}: {name} must be a non-negative integer, got {value!r}")
    return value


def _duration(value: Any, name: str, where: str) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    raise DagDefinitionError(f"{where}: {name} must be a timedelta or seconds, got {value!r}")


def _optional_duration(value: Any, name: str, where: str) -> timedelta | None:
    return None if value is None else _duration(value, name, where)


def chain(*tasks: Any) -> None:
    """Link tasks in sequence: ``chain(a, b, [c, d], e)`` is ``a >> b >> [c, d] >> e``.

    Two adjacent lists of the same length are linked pairwise, as in Airflow.
    """
    for up, down in itertools.pairwise(tasks):
        if isinstance(up, list | tuple) and isinstance(down, list | tuple):
            if len(up) != len(down):
                raise DagDefinitionError(
                    f"chain: adjacent lists must have the same length, got {len(up)} and "
                    f"{len(down)}"
                )
            for u, d in zip(up, down, strict=True):
                u >> d
        else:
            _rshift(up, down)


def _rshift(up: Any, down: Any) -> None:
    ups = up if isinstance(up, list | tuple) else [up]
    for u in ups:
        u >> down
