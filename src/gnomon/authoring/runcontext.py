"""The context of the running task, reachable from anywhere in its code."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

_current: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "gnomon_task_context", default=None
)


def get_current_context() -> Mapping[str, Any]:
    """The running task's context (``ds``, ``ti``, ``params``, ``dag_run``...).

    Raises RuntimeError outside a running task.
    """
    context = _current.get()
    if context is None:
        raise RuntimeError(
            "get_current_context() was called outside a running task: call it inside the "
            "task's function"
        )
    return context


@contextmanager
def set_current_context(context: Mapping[str, Any]) -> Iterator[None]:
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)
