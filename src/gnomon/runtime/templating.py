"""Rendering operators' template fields with Jinja2 (strict: undefined names are errors)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from gnomon.exceptions import TemplateError

_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render strings, recursing into lists, tuples and dict values; leave the rest alone."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        return _ENV.from_string(value).render(context)
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if isinstance(value, tuple):
        return tuple(render_value(v, context) for v in value)
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    return value


def render_fields(operator: Any, context: Mapping[str, Any]) -> dict[str, Any]:
    """Render every template field of ``operator`` in place; returns the rendered values."""
    rendered: dict[str, Any] = {}
    for name in operator.template_fields:
        try:
            value = render_value(getattr(operator, name), context)
        except jinja2.TemplateError as exc:
            raise TemplateError(
                f"task {operator.task_id!r}: cannot render template field {name!r}: {exc}"
            ) from None
        setattr(operator, name, value)
        rendered[name] = value
    return rendered
