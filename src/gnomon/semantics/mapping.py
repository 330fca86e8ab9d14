"""Dynamic mapping: how many instances a mapped task expands into, and each one's values."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any


class MappingError(ValueError):
    """A mapped task's input cannot be expanded (not a list or dict)."""


def input_length(name: str, value: Any) -> int:
    if isinstance(value, list | tuple | dict):
        return len(value)
    raise MappingError(
        f"expand argument {name!r} must resolve to a list or a dict, got {type(value).__name__}"
    )


def total_length(lengths: Sequence[int]) -> int:
    """Instances of a task mapped over several inputs: their cross product."""
    return math.prod(lengths) if lengths else 0


def _elements(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [(k, v) for k, v in value.items()]
    return list(value)


def values_at(inputs: Mapping[str, Any], map_index: int) -> dict[str, Any]:
    """The argument values of instance ``map_index``: the cross product in argument order,
    the last argument varying fastest; a dict contributes ``(key, value)`` pairs."""
    names = list(inputs)
    elements = [_elements(inputs[name]) for name in names]
    total = total_length([len(e) for e in elements])
    if not 0 <= map_index < total:
        raise IndexError(f"map index {map_index} out of range 0..{total - 1}")
    for i, combo in enumerate(itertools.product(*elements)):
        if i == map_index:
            return dict(zip(names, combo, strict=True))
    raise AssertionError("unreachable")  # pragma: no cover
