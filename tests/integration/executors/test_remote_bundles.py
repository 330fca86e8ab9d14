"""A remote worker runs a DAG version from its bundle: the DAGs folder's files fetched by
content hash and materialised by ``dagfiles.bundles.BundleCache``, helper modules included.

The API is replaced by a stand-in here (what it answers is tested with the real one), and so
is the bundle cache, whose real implementation lives with the bundles themselves."""

from __future__ import annotations

import hashlib
import socket
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gnomon.executors.base import Workload
from gnomon.executors.execution_client import (
    END_RETRY,
    FETCH_RETRY,
    START_RETRY,
    BundleRef,
    Claim,
    ExecutionClient,
    StartAnswer,
)
from gnomon.executors.remote import BUNDLES_MODULE, RunnerConfig, RunStatus, TryRunner
from gnomon.runtime.protocol import TryOutcome, TryRequest
from gnomon.semantics.states import TaskState

HELPER = "greeting_helper_0d1f"
DAG_FILE = f"""
from datetime import datetime
from gnomon import DAG, task
from helpers_0d1f.{HELPER} import GREETING

with DAG("bundled", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def greet():
        return GREETING

    greet()
"""
#: Path relative to the DAGs folder -> content.
FILES = {"bundled.py": DAG_FILE.encode(), f"helpers_0d1f/{HELPER}.py": b"GREETING = 'hi'\n"}


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class StandInApi(ExecutionClient):
    """Answers a start with a bundle, serves its files, records the end report."""

    def __init__(self, answer: StartAnswer) -> None:
        super().__init__("http://127.0.0.1:9/execution/v1")
        self.answer = answer
        self.fetched: list[str] = []
        self.ended: list[TryOutcome] = []

    def start(
        self, try_id: int, token: str, claim: Claim, *, retry_for: float = START_RETRY
    ) -> StartAnswer:
        return self.answer

    def file(
        self, try_id: int, token: str, sha256: str, *, retry_for: float = FETCH_RETRY
    ) -> bytes:
        self.fetched.append(sha256)
        return next(c for c in FILES.values() if _sha(c) == sha256)

    def source(self, try_id: int, token: str, *, retry_for: float = FETCH_RETRY) -> str:
        raise AssertionError("a version with a bundle is loaded from the bundle")

    def end(
        self,
        try_id: int,
        token: str,
        outcome: TryOutcome,
        *,
        started_at: datetime | None,
        ended_at: datetime,
        pid: int | None,
        log_location: str | None = None,
        retry_for: float = END_RETRY,
    ) -> TaskState:
        self.ended.append(outcome)
        return outcome.state


class BundleCache:
    """The interface of ``dagfiles.bundles.BundleCache``: a bundle's files under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure(
        self, bundle_hash: str, files: Mapping[str, str], fetch: Callable[[str], bytes]
    ) -> Path:
        folder = self.root / bundle_hash
        for relative, sha256 in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(fetch(sha256))
        return folder


@pytest.fixture
def bundle_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    module = types.ModuleType(BUNDLES_MODULE)
    module.BundleCache = BundleCache  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, BUNDLES_MODULE, module)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the loader adds the bundle's folder
    yield
    for name in ("helpers_0d1f", f"helpers_0d1f.{HELPER}"):
        sys.modules.pop(name, None)


def test_a_version_with_a_bundle_runs_from_its_files_helpers_included(
    bundle_module: None, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    request = TryRequest("bundled", "greet", -1, 1, "manual__1", now, now, now)
    files = {relative: _sha(content) for relative, content in FILES.items()}
    api = StandInApi(
        StartAnswer(
            token="gnx_run",
            token_expires_in=600,
            heartbeat_interval=5,
            request=request,
            dag_id="bundled",
            dag_version_id=3,
            version_hash="0" * 64,
            fileloc="bundled.py",
            bundle=BundleRef("b" * 64, files),
            timeout=None,
            xcom_max_bytes=None,
        )
    )
    runner = TryRunner(
        RunnerConfig(
            api_url=api.base_url,
            logs_folder=tmp_path / "logs",
            cache_folder=tmp_path / "cache",
            worker="w",
            hostname=socket.gethostname(),
        ),
        client=api,
    )
    workload: dict[str, Any] = Workload(
        try_id=11,
        run_pk=1,
        request=request,
        dag_version_id=3,
        version_hash="0" * 64,
        fileloc="/the/scheduler's/dags/bundled.py",
        dags_folder="/the/scheduler's/dags",
        log_path="/the/scheduler's/logs/bundled/try-1.log",
        timeout=None,
        log_relpath="bundled/manual__1/greet/try-1.log",
    ).to_json()
    result = runner.run(workload, "gnx_start")
    assert result.status is RunStatus.ENDED, result
    assert [o.xcoms for o in api.ended] == [{"return_value": "hi"}]
    assert sorted(api.fetched) == sorted(files.values())
    assert (tmp_path / "cache" / "bundles" / ("b" * 64) / "bundled.py").exists()
