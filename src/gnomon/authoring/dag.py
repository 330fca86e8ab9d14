"""The DAG: a named graph of tasks with a schedule, params and defaults for its tasks."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeAlias

from gnomon.authoring import contexts, params
from gnomon.exceptions import DagDefinitionError
from gnomon.semantics import timetables

if TYPE_CHECKING:
    from gnomon.authoring.baseoperator import BaseOperator
    from gnomon.authoring.mapped import MappedOperator
    from gnomon.authoring.taskgroup import TaskGroup

    Task: TypeAlias = "BaseOperator | MappedOperator"

DAG_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
P = ParamSpec("P")


class DAG:
    """A pipeline: tasks, their dependencies, and when it runs.

    Use it as a context manager (``with DAG("etl", schedule="@daily") as dag:``) or through
    ``@dag``. ``schedule`` is ``None`` (manual only), a cron expression, a preset (``@once``,
    ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``) or a ``timedelta``.
    A naive ``start_date`` means UTC; an aware one also sets the timezone cron is evaluated in.
    """

    def __init__(
        self,
        dag_id: str,
        schedule: Any = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        catchup: bool = False,
        default_args: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        max_active_runs: int = 16,
        max_active_tasks: int = 16,
        tags: Iterable[str] = (),
        description: str | None = None,
        doc_md: str | None = None,
        team: str | None = None,
    ) -> None:
        if not isinstance(dag_id, str) or not DAG_ID_RE.match(dag_id):
            raise DagDefinitionError(
                f"invalid dag_id {dag_id!r}: use letters, digits, '_', '-' and '.'"
            )
        self.dag_id = dag_id
        self.timezone = _timezone_name(start_date)
        self.start_date = timetables.utc(start_date) if start_date else None
        self.end_date = timetables.utc(end_date) if end_date else None
        try:
            self.timetable = timetables.parse_schedule(schedule, self.timezone)
        except ValueError as exc:
            raise DagDefinitionError(f"DAG {dag_id!r}: {exc}") from None
        self.schedule = schedule
        self.catchup = bool(catchup)
        self.default_args: dict[str, Any] = dict(default_args or {})
        self.params = _normalized_params(dag_id, params)
        for name, value in (
            ("max_active_runs", max_active_runs),
            ("max_active_tasks", max_active_tasks),
        ):
            if not isinstance(value, int) or value < 1:
                raise DagDefinitionError(f"DAG {dag_id!r}: {name} must be a positive integer")
        self.max_active_runs = max_active_runs
        self.max_active_tasks = max_active_tasks
        if isinstance(tags, str):
            tags = [tags]
        self.tags = sorted(set(tags))
        self.description = description
        self.doc_md = doc_md
        self.team = team
        self.fileloc = _caller_file()
        self.task_dict: dict[str, Task] = {}
        self.task_groups: dict[str, TaskGroup] = {}
        self._auto_ids: dict[str, int] = {}
        contexts.register(self)

    # -- building ----------------------------------------------------------------------------
    def add_task(self, task: BaseOperator) -> None:
        if task.task_id in self.task_dict:
            raise DagDefinitionError(f"DAG {self.dag_id!r}: duplicate task id {task.task_id!r}")
        self.task_dict[task.task_id] = task

    def replace_task(self, task: MappedOperator) -> None:
        self.task_dict[task.task_id] = task

    def add_group(self, group: TaskGroup) -> None:
        if group.group_id in self.task_groups:
            raise DagDefinitionError(
                f"DAG {self.dag_id!r}: duplicate task group id {group.group_id!r}"
            )
        self.task_groups[group.group_id] = group

    def unique_task_id(self, task_id: str) -> str:
        """``task_id``, or ``task_id__N`` if taken (a @task function called several times)."""
        if task_id not in self.task_dict:
            return task_id
        n = self._auto_ids.get(task_id, 0)
        while True:
            n += 1
            candidate = f"{task_id}__{n}"
            if candidate not in self.task_dict:
                self._auto_ids[task_id] = n
                return candidate

    def __enter__(self) -> DAG:
        contexts.push_dag(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        contexts.pop_dag()

    # -- reading -----------------------------------------------------------------------------
    @property
    def tasks(self) -> list[Task]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    def get_task(self, task_id: str) -> Task:
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise KeyError(f"DAG {self.dag_id!r} has no task {task_id!r}") from None

    @property
    def roots(self) -> list[Task]:
        return [t for t in self.task_dict.values() if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[Task]:
        return [t for t in self.task_dict.values() if not t.downstream_task_ids]

    def topological_order(self) -> list[str]:
        """Task ids, upstream before downstream; raises DagDefinitionError on a cycle."""
        indegree = {tid: len(t.upstream_task_ids) for tid, t in self.task_dict.items()}
        ready = [tid for tid, n in indegree.items() if n == 0]
        order: list[str] = []
        while ready:
            tid = ready.pop()
            order.append(tid)
            for down in sorted(self.task_dict[tid].downstream_task_ids, reverse=True):
                indegree[down] -= 1
                if indegree[down] == 0:
                    ready.append(down)
        if len(order) != len(self.task_dict):
            stuck = sorted(tid for tid, n in indegree.items() if n > 0)
            raise DagDefinitionError(
                f"DAG {self.dag_id!r} has a cycle through task(s): {', '.join(stuck)}"
            )
        return order

    def validate(self) -> None:
        """Check what can only be checked once the whole DAG is defined."""
        for task in self.task_dict.values():
            missing = (task.upstream_task_ids | task.downstream_task_ids) - self.task_dict.keys()
            if missing:
                raise DagDefinitionError(
                    f"DAG {self.dag_id!r}: task {task.task_id!r} is linked to unknown task(s) "
                    f"{', '.join(sorted(missing))}"
                )
        self.topological_order()

    def __repr__(self) -> str:
        return f"<DAG {self.dag_id!r}>"


def _timezone_name(start_date: datetime | None) -> str:
    """The IANA name of ``start_date``'s timezone (cron is evaluated there); UTC if naive."""
    if start_date is None or start_date.tzinfo is None:
        return "UTC"
    for attr in ("key", "name"):
        name = getattr(start_date.tzinfo, attr, None)
        if isinstance(name, str) and name:
            return name
    if start_date.utcoffset() == timedelta(0):
        return "UTC"
    raise DagDefinitionError(
        f"start_date {start_date.isoformat()} has a fixed UTC offset: give it a named timezone "
        "(zoneinfo.ZoneInfo('Europe/Paris')) so schedules follow daylight saving time"
    )


def _normalized_params(dag_id: str, values: Mapping[str, Any] | None) -> dict[str, params.Param]:
    try:
        return params.normalize(values)
    except DagDefinitionError as exc:
        raise DagDefinitionError(f"DAG {dag_id!r}: {exc}") from None


def _caller_file() -> str:
    frame = inspect.currentframe()
    while frame is not None:
        filename = frame.f_code.co_filename
        if "/gnomon/authoring/" not in filename:
            return filename
        frame = frame.f_back
    return "<unknown>"


def dag(
    dag_id: str | None = None, **dag_kwargs: Any
) -> Callable[[Callable[P, object]], Callable[P, DAG]]:
    """Decorate a function that builds tasks; calling it returns the DAG.

    The DAG id defaults to the function name; the function's keyword arguments with defaults
    become params (unless ``params=`` is given), and inside the function each such argument is
    a reference that tasks receive as the run's value of that param.
    """

    def decorator(func: Callable[P, object]) -> Callable[P, DAG]:
        @functools.wraps(func)
        def factory(*args: P.args, **kwargs: P.kwargs) -> DAG:
            merged = dict(dag_kwargs)
            if "params" not in merged:
                signature = inspect.signature(func)
                merged["params"] = {
                    name: p.default
                    for name, p in signature.parameters.items()
                    if p.default is not inspect.Parameter.empty
                }
            with DAG(dag_id or func.__name__, **merged) as built:
                built.doc_md = built.doc_md or func.__doc__
                bound = {
                    name: params.DagParam(name)
                    for name in inspect.signature(func).parameters
                    if name in built.params and name not in kwargs
                }
                func(*args, **{**bound, **kwargs})  # type: ignore[arg-type]
            return built

        return factory

    return decorator
