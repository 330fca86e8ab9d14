"""An app for tests that make many requests against one database: a SQLite copy of the
session's migrated template, an orchestrator that is never started, and the API on it. Built
once per test module (a module-scoped fixture of the module), on SQLite only: such tests check
the API's rules, not the store's SQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL

from support.api import ApiHarness
from support.orchestrator import Orchestrator


@contextmanager
def sqlite_api(sqlite_template: Path, root: Path) -> Iterator[tuple[Orchestrator, ApiHarness]]:
    path = root / "gnomon.db"
    shutil.copyfile(sqlite_template, path)
    orchestrator = Orchestrator(URL.create("sqlite", database=str(path)).render_as_string(), root)
    try:
        harness = ApiHarness(orchestrator.engine, orchestrator.home)
        with harness.client:
            yield orchestrator, harness
    finally:
        orchestrator.engine.dispose()
