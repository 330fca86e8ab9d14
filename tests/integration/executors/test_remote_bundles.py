"""A remote worker runs each DAG version from its bundle: the DAGs folder's files as the DAG
processor stored them, fetched through the execution API by content hash and materialised by
``dagfiles.bundles.BundleCache``, helper modules included."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from support.orchestrator import Orchestrator
from support.remote import ApiServer, BrokerExecutor, Message, RemoteWorker

#: ``effects`` is imported with the DAG file; ``lib.lazy`` (a namespace package) only when
#: the task runs, in the try's own process.
DAG_FILE = """
from datetime import datetime
from gnomon import DAG, task
import effects

with DAG("effects", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def at_import():
        return effects.WHO

    @task
    def at_run():
        from lib.lazy import WHO
        return WHO

    at_import()
    at_run()
"""


@pytest.fixture
def orchestrator(make_orchestrator: Any, broker: BrokerExecutor) -> Orchestrator:
    found: Orchestrator = make_orchestrator(executor=broker)
    return found


def _write_helpers(folder: Path, who: str) -> None:
    (folder / "lib").mkdir(exist_ok=True)
    for relative in ("effects.py", "lib/lazy.py"):
        (folder / relative).write_text(f"WHO = {who!r}\n")


def _messages(broker: BrokerExecutor) -> dict[str, Message]:
    """The run's two tries, by task."""
    found = [broker.next(), broker.next()]
    return {message.workload.request.task_id: message for message in found}


def test_each_version_runs_with_the_helpers_of_its_own_bundle_in_one_warm_worker(
    orchestrator: Orchestrator,
    broker: BrokerExecutor,
    server: ApiServer,
    workers: list[RemoteWorker],
    tmp_path: Path,
) -> None:
    folder = orchestrator.dags_folder
    (folder / "effects_dag.py").write_text(textwrap.dedent(DAG_FILE))
    _write_helpers(folder, "first")
    orchestrator.process()
    orchestrator.start()
    first_run = orchestrator.trigger("effects")
    first = _messages(broker)
    _write_helpers(folder, "second")
    assert orchestrator.process().new_versions == ("effects",)
    second_run = orchestrator.trigger("effects")
    second = _messages(broker)
    # The worker's machine has no DAGs folder: the helpers exist only in the bundles.
    shutil.rmtree(folder)
    worker = RemoteWorker(server.url, tmp_path)
    workers.append(worker)

    # One warm process: the second version is loaded before the first one's lazy import.
    order = [
        (first_run, first["at_import"]),
        (second_run, second["at_import"]),
        (first_run, first["at_run"]),
        (second_run, second["at_run"]),
    ]
    results: list[dict[str, Any]] = [worker.run(message) for _, message in order]

    assert [r["outcome"]["xcoms"].get("return_value") for r in results] == [
        "first",
        "second",
        "first",
        "second",
    ], [r["outcome"]["error"] for r in results]
    stored = {
        (run_id, task_id): orchestrator.xcom("effects", run_id, task_id)
        for run_id in (first_run, second_run)
        for task_id in ("at_import", "at_run")
    }
    assert stored == {
        (first_run, "at_import"): "first",
        (first_run, "at_run"): "first",
        (second_run, "at_import"): "second",
        (second_run, "at_run"): "second",
    }
    assert worker.close() == {"database_modules": []}
