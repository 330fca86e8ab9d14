"""One try, inside the process that runs it: resolve inputs, render, execute, report.

This runs in the forked try process. Everything it learns goes into the returned
``TryOutcome``; the control plane applies it.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from gnomon.authoring.dag import DAG
from gnomon.authoring.mapped import MappedOperator
from gnomon.authoring.params import DagParam
from gnomon.authoring.runcontext import set_current_context
from gnomon.authoring.xcom_arg import RETURN_VALUE, XComArg
from gnomon.exceptions import FailTask, SkipTask, TaskTimeout, XComError
from gnomon.operators.python import BranchMixin, ShortCircuitOperator
from gnomon.runtime import context as runtime_context
from gnomon.runtime import templating
from gnomon.runtime.protocol import TryOutcome, TryRequest, XComSource
from gnomon.semantics import branching, mapping, retries
from gnomon.semantics.states import TaskState


@contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    """Raise TaskTimeout in this process after ``seconds``."""
    if not seconds:
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise TaskTimeout(f"execution_timeout of {seconds:g}s exceeded")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def resolve_inputs(
    value: Any, ti: runtime_context.TaskInstanceHandle, params: Mapping[str, Any]
) -> Any:
    """Replace task outputs and DAG param references inside an argument by their values."""
    if isinstance(value, XComArg):
        return ti.xcom_pull(value.operator.task_id, key=value.key)
    if isinstance(value, DagParam):
        return params[value.name]
    if isinstance(value, list):
        return [resolve_inputs(v, ti, params) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_inputs(v, ti, params) for v in value)
    if isinstance(value, dict):
        return {k: resolve_inputs(v, ti, params) for k, v in value.items()}
    return value


def concrete_operator(
    task: Any, request: TryRequest, ti: runtime_context.TaskInstanceHandle
) -> Any:
    """The operator instance this try runs (a mapped task unmapped at its index)."""
    if not isinstance(task, MappedOperator):
        return task
    inputs = {
        name: resolve_inputs(value, ti, request.params) for name, value in task.expand_input.items()
    }
    for name, value in inputs.items():
        mapping.input_length(name, value)
    return task.unmap(mapping.values_at(inputs, request.map_index), request.map_index)


class _MappedTasks:
    """The DAG's mapped task ids, as a container asked one id at a time (a try pulls from a
    few tasks; listing every task of the DAG would cost each try O(DAG size))."""

    def __init__(self, dag: DAG) -> None:
        self._tasks = dag.task_dict

    def __contains__(self, task_id: object) -> bool:
        return isinstance(task_id, str) and isinstance(self._tasks.get(task_id), MappedOperator)


def _lengths(pushed: Mapping[str, Any]) -> dict[str, int | None]:
    return {k: len(v) if isinstance(v, list | dict) else None for k, v in pushed.items()}


def _downstream(dag: DAG) -> dict[str, tuple[str, ...]]:
    return {tid: tuple(t.downstream_task_ids) for tid, t in dag.task_dict.items()}


def _skips(dag: DAG, operator: Any, result: Any) -> tuple[str, ...]:
    # The whole DAG's edges only for the operators that skip: every try pays for what it
    # builds here, in its own fresh process.
    if isinstance(operator, BranchMixin):
        downstream = _downstream(dag)
        groups = {gid: [t.task_id for t in g.roots] for gid, g in dag.task_groups.items()}
        follow = operator.branch_choice(result) or []
        return tuple(sorted(branching.branch_skips(downstream, groups, operator.task_id, follow)))
    if isinstance(operator, ShortCircuitOperator) and not result:
        print(f"Condition is falsy ({result!r}): skipping downstream tasks")
        return tuple(
            sorted(
                branching.short_circuit_skips(
                    _downstream(dag),
                    operator.task_id,
                    all_downstream=operator.ignore_downstream_trigger_rules,
                )
            )
        )
    return ()


def _run_callback(
    callback: Callable[[Mapping[str, Any]], object] | None, context: Mapping[str, Any], name: str
) -> None:
    if callback is None:
        return
    try:
        callback(context)
    except Exception:
        print(f"{name} raised (ignored):\n{traceback.format_exc()}")


def execute_try(
    dag: DAG, request: TryRequest, xcoms: XComSource, *, max_xcom_bytes: int
) -> TryOutcome:
    """Run one try of ``request`` to its end and describe how it ended."""
    task = dag.get_task(request.task_id)
    prototype = task.prototype if isinstance(task, MappedOperator) else task
    ti = runtime_context.TaskInstanceHandle(request, xcoms, _MappedTasks(dag), max_xcom_bytes)
    context: dict[str, Any] = runtime_context.build_context(dag, prototype, request, ti)
    label = f"{request.task_id}" + (f"[{request.map_index}]" if request.map_index >= 0 else "")
    print(f"Running {request.dag_id}.{label}, try {request.try_number} of {request.max_tries}")
    operator: Any = prototype
    timeout = prototype.execution_timeout.total_seconds() if prototype.execution_timeout else None
    try:
        with _alarm(timeout):
            operator = concrete_operator(task, request, ti)
            context["task"] = operator
            templating.render_fields(operator, context)
            for name in ("op_args", "op_kwargs"):
                if hasattr(operator, name):
                    setattr(
                        operator, name, resolve_inputs(getattr(operator, name), ti, request.params)
                    )
            with set_current_context(context):
                result = operator.execute(context)
            if result is not None:
                ti.xcom_push(RETURN_VALUE, result)
            if getattr(operator, "multiple_outputs", False):
                if not isinstance(result, dict):
                    raise XComError(
                        f"task {request.task_id!r} has multiple_outputs=True but returned "
                        f"{type(result).__name__}, not a dict"
                    )
                for key, value in result.items():
                    ti.xcom_push(str(key), value)
            skip = _skips(dag, operator, result)
    except SkipTask as exc:
        print(f"Task skipped: {exc}")
        return TryOutcome(TaskState.SKIPPED, "skipped", error=str(exc) or None)
    except (Exception, TaskTimeout) as exc:
        timed_out = isinstance(exc, TaskTimeout)
        if timed_out:
            operator.on_kill()
        print("Task failed:\n" + traceback.format_exc().rstrip())
        retryable = not isinstance(exc, FailTask)
        outcome = retries.after_failure(
            retries.policy_of(prototype), request.try_number, datetime.now(UTC), retryable=retryable
        )
        context["exception"] = exc
        if outcome.state is TaskState.UP_FOR_RETRY:
            _run_callback(prototype.on_retry_callback, context, "on_retry_callback")
        else:
            _run_callback(prototype.on_failure_callback, context, "on_failure_callback")
        reason = "timeout" if timed_out else ("fail_task" if not retryable else "exception")
        return TryOutcome(
            TaskState.FAILED,
            reason,
            retryable=retryable,
            error=f"{type(exc).__name__}: {exc}",
        )
    if result is not None and getattr(prototype, "show_return_value_in_logs", True):
        print(f"Returned value: {result!r}")
    _run_callback(prototype.on_success_callback, context, "on_success_callback")
    return TryOutcome(
        TaskState.SUCCESS,
        "success",
        xcoms=ti.pushed,
        xcom_lengths=_lengths(ti.pushed),
        skip=skip,
    )
