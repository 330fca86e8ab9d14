"""EmptyOperator: does nothing; useful to join or fan out branches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gnomon.authoring.baseoperator import BaseOperator


class EmptyOperator(BaseOperator):
    """A task that succeeds at once (subject to its trigger rule like any other)."""

    def execute(self, context: Mapping[str, Any]) -> None:
        return None
