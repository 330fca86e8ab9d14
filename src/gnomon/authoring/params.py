"""DAG params: typed, JSON-schema-validated values that a trigger's ``conf`` may override."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema

from gnomon.exceptions import DagDefinitionError, ParamValidationError

_NOTSET: Any = object()


class Param:
    """A DAG parameter with a default and a JSON schema.

    ``Param(5, type="integer", minimum=1)``: the keyword arguments are JSON-schema keywords.
    A param without a default must be given in the trigger's ``conf``.
    """

    def __init__(self, default: Any = _NOTSET, description: str | None = None, **schema: Any):
        self.default = default
        self.description = description
        self.schema: dict[str, Any] = dict(schema)
        try:
            jsonschema.validators.validator_for(self.schema).check_schema(self.schema)
        except jsonschema.SchemaError as exc:
            raise DagDefinitionError(
                f"invalid param schema {self.schema!r}: {exc.message}"
            ) from None

    @property
    def has_default(self) -> bool:
        return self.default is not _NOTSET

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": self.schema}
        if self.has_default:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        return out


class DagParam:
    """A reference to the run's value of param ``name`` (a ``@dag`` function's argument).

    Passed to a task, it is replaced by the value the run resolved (default or ``conf``).
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def to_json(self) -> dict[str, Any]:
        return {"__dagparam__": self.name}

    def __repr__(self) -> str:
        return f"DagParam({self.name!r})"


def normalize(params: Mapping[str, Any] | None) -> dict[str, Param]:
    """Turn a DAG's ``params`` (plain values or ``Param``) into ``Param`` objects."""
    result: dict[str, Param] = {}
    for name, value in (params or {}).items():
        param = value if isinstance(value, Param) else Param(value)
        if param.has_default:
            try:
                json.dumps(param.default)
            except TypeError:
                raise DagDefinitionError(
                    f"param {name!r}: default {param.default!r} is not JSON-serializable"
                ) from None
            try:
                jsonschema.validate(param.default, param.schema)
            except jsonschema.ValidationError as exc:
                raise DagDefinitionError(
                    f"param {name!r}: default {param.default!r} is invalid: {exc.message}"
                ) from None
        result[name] = param
    return result


def resolve(schemas: Mapping[str, Mapping[str, Any]], conf: Mapping[str, Any]) -> dict[str, Any]:
    """The run's param values: declared params' defaults overridden by ``conf`` and validated,
    plus any other ``conf`` keys.

    ``schemas`` is the serialized form (``{name: {"schema": ..., "default"?: ...}}``), so the
    scheduler and API can validate without importing user code. Raises ParamValidationError
    naming the first param at fault.
    """
    values: dict[str, Any] = {}
    for name, spec in schemas.items():
        if name in conf:
            value = conf[name]
        elif "default" in spec:
            value = spec["default"]
        else:
            raise ParamValidationError(name, "is required: it has no default and is not in conf")
        try:
            jsonschema.validate(value, dict(spec.get("schema", {})))
        except jsonschema.ValidationError as exc:
            raise ParamValidationError(name, f"{value!r} is invalid: {exc.message}") from None
        values[name] = value
    # As in Airflow, conf keys that are not declared params are visible as params too.
    for name, value in conf.items():
        values.setdefault(name, value)
    return values
