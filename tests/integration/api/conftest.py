"""Module-scoped fixtures for tests that make many requests against one app: a SQLite
database (copied from the session's migrated template), an orchestrator that is never started,
and the API on it. They run on SQLite only: they test the API's rules, not the store's SQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from support.api import ApiHarness
from support.orchestrator import Orchestrator


@pytest.fixture(scope="module")
def module_orchestrator(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Orchestrator]:
    root = tmp_path_factory.mktemp("module-api")
    path = root / "gnomon.db"
    shutil.copyfile(sqlite_template, path)
    orchestrator = Orchestrator(URL.create("sqlite", database=str(path)).render_as_string(), root)
    yield orchestrator
    orchestrator.engine.dispose()


@pytest.fixture(scope="module")
def module_api(module_orchestrator: Orchestrator) -> Iterator[ApiHarness]:
    harness = ApiHarness(module_orchestrator.engine, module_orchestrator.home)
    with harness.client:
        yield harness
