"""Calling user functions with the context values their signature asks for (Airflow's way)."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any


@functools.lru_cache(maxsize=4096)
def _cached_signature(func: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(func)


def signature(func: Callable[..., Any]) -> inspect.Signature:
    """``inspect.signature(func)``, computed once per callable in this process. Operators
    look theirs up when built, so a warm worker has them when it forks a try; a try's
    process computing one would cost it ~50 copy-on-write page faults."""
    try:
        return _cached_signature(func)
    except TypeError:  # an unhashable callable object (or no signature: raised again)
        return inspect.signature(func)


def prepare(func: Callable[..., Any]) -> None:
    """Compute ``func``'s signature now, if it has one (its call raises the error if not)."""
    with contextlib.suppress(TypeError, ValueError):
        signature(func)


def call_with_context(
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    context: Mapping[str, Any],
) -> Any:
    """Call ``func(*args, **kwargs)``, adding context entries its signature names.

    A parameter named like a context key (``ds``, ``ti``, ``params``...) that ``args`` and
    ``kwargs`` leave unset receives that context value; with ``**kwargs`` in the signature, the
    whole context is passed.
    """
    found = signature(func)
    bound = found.bind_partial(*args, **kwargs).arguments
    extra: dict[str, Any] = {}
    takes_var_kw = False
    for name, param in found.parameters.items():
        if param.kind is param.VAR_KEYWORD:
            takes_var_kw = True
        elif name not in bound and name in context and param.kind is not param.VAR_POSITIONAL:
            extra[name] = context[name]
    if takes_var_kw:
        extra = {k: v for k, v in context.items() if k not in bound} | extra
        extra = {k: v for k, v in extra.items() if k not in kwargs}
    return func(*args, **kwargs, **extra)
