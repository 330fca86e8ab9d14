"""Exceptions of the public authoring surface (``from gnomon.exceptions import ...``)."""

from __future__ import annotations


class GnomonError(Exception):
    """Base class of Gnomon's own errors."""


class SkipTask(GnomonError):
    """Raise inside a task to end it as ``skipped``."""


class FailTask(GnomonError):
    """Raise inside a task to fail it at once, without using its remaining retries."""


class TaskTimeout(BaseException):
    """Raised inside a task whose ``execution_timeout`` expired.

    A ``BaseException`` so that a task's own ``except Exception`` cannot swallow it.
    """


class DagDefinitionError(GnomonError):
    """A DAG is defined wrongly (cycle, duplicate task id, bad argument, bad schedule, ...)."""


class ParamValidationError(GnomonError):
    """A param's value (from its default or from the run's ``conf``) fails its schema."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"param {param!r}: {message}")
        self.param = param


class TemplateError(GnomonError):
    """A template failed to render (for example it names an undefined variable)."""


class XComError(GnomonError):
    """An XCom value cannot be stored (not JSON-serializable, or too large) or found."""
