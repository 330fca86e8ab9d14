"""XComs read from the metadata database, for tries of the local executor.

The worker creates the engine once (dialect initialised, no connection left open); a try
connects on its first pull, after the fork, so no connection is ever shared across a fork and a
try that pulls nothing never connects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from gnomon.store import db, xcoms


class DbXComSource:
    def __init__(self, engine: Engine, run_pk: int) -> None:
        self._engine = engine
        self._run_pk = run_pk
        self._forked = False

    def pull(self, task_id: str, key: str) -> Mapping[int, Any]:
        if not self._forked:
            # Connections the pool may hold belong to the parent: leave them alone.
            self._engine.dispose(close=False)
            self._forked = True
        with db.session_factory(self._engine, read_only=True)() as session:
            return xcoms.pull(session, self._run_pk, task_id, key)
