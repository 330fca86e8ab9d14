"""Calling user functions with the context values their signature asks for (Airflow's way)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any


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
    signature = inspect.signature(func)
    bound = signature.bind_partial(*args, **kwargs).arguments
    extra: dict[str, Any] = {}
    takes_var_kw = False
    for name, param in signature.parameters.items():
        if param.kind is param.VAR_KEYWORD:
            takes_var_kw = True
        elif name not in bound and name in context and param.kind is not param.VAR_POSITIONAL:
            extra[name] = context[name]
    if takes_var_kw:
        extra = {k: v for k, v in context.items() if k not in bound} | extra
        extra = {k: v for k, v in extra.items() if k not in kwargs}
    return func(*args, **kwargs, **extra)
