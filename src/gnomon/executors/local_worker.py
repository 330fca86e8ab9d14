"""A warm worker process of the local executor (``python -m gnomon.executors.local_worker``).

It imports Gnomon once, then, for each workload its executor sends on stdin, loads the DAG
version (cached) and forks the try from itself through ``runtime.supervisor``: no interpreter
starts per task. It reports each try's start and end as JSON lines on stdout and never
writes to the database. If its executor dies, it kills its try and exits.
"""

from __future__ import annotations

import faulthandler
import json
import os
import select
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select as sql_select

# Imported here so that every forked try finds them loaded already.
import gnomon.operators  # noqa: F401
from gnomon.executors import dag_versions
from gnomon.executors.base import SHUTDOWN_EXIT_REASON, Workload
from gnomon.executors.xcom_source import DbXComSource
from gnomon.runtime import lifeline, logstore, supervisor
from gnomon.runtime.protocol import TryOutcome
from gnomon.semantics.states import TaskState
from gnomon.store import db, models


class Worker:
    def __init__(self, config: dict[str, Any], out: TextIO) -> None:
        self.db_url: str = config["db_url"]
        self.xcom_max_bytes: int = config["xcom_max_bytes"]
        self.name: str = config.get("name") or f"local-{os.getpid()}"
        self.hostname = socket.gethostname()
        self.out = out
        self.supervisor = supervisor.Supervisor(
            kill_grace=config["kill_grace"], close_in_child=(out.fileno(),)
        )
        self.parent = os.getppid()
        self.dags: dict[int, dag_versions.LoadedVersion] = {}
        self.killed: set[int] = set()
        self.engine = db.make_engine(self.db_url)
        #: Where finished logs are copied, if log_url names a remote store.
        self.logs: logstore.LogStore | None = None
        if "logs" in config:
            logs = config["logs"]
            self.logs = logstore.LogStore(
                logs["url"], Path(logs["folder"]), logs["storage_options"]
            )
        self.log_relpaths: dict[int, str] = {}

    def emit(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()

    def serve(self, buffer: bytes = b"") -> None:
        buffer = self._commands(buffer)  # what came with the configuration
        while True:
            if os.getppid() != self.parent:  # the executor died
                self.supervisor.shutdown()
                return
            timeout = 1.0
            if self.supervisor.running:
                for finished in self.supervisor.poll(0.2):
                    self._ended(finished)
                timeout = 0.0
            readable, _, _ = select.select([0], [], [], timeout)
            if not readable:
                continue
            chunk = os.read(0, 1 << 20)
            if not chunk:  # stdin closed: stop, killing what still runs
                self._kill_all()
                return
            buffer = self._commands(buffer + chunk)

    def _commands(self, buffer: bytes) -> bytes:
        """Run the complete command lines in ``buffer``; return the incomplete rest."""
        *lines, rest = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self._command(json.loads(line))
        return rest

    def _command(self, message: dict[str, Any]) -> None:
        if message["cmd"] == "run":
            self._run(Workload.from_json(message["workload"]))
        elif message["cmd"] == "kill":
            self._kill_all()

    def _kill_all(self) -> None:
        self.killed.update(int(key) for key in self.supervisor.running_keys())
        for finished in self.supervisor.shutdown():
            self._ended(finished)

    def _run(self, workload: Workload) -> None:
        request = workload.request
        source = DbXComSource(self.engine, workload.run_pk)
        self.log_relpaths[workload.try_id] = workload.log_relpath
        proc = self.supervisor.start(
            workload.try_id,
            self._dag(workload).try_target(request, source, self.xcom_max_bytes),
            label=dag_versions.try_label(request),
            timeout=workload.timeout,
            log_path=Path(workload.log_path),
        )
        self.emit(
            {
                "event": "started",
                "try_id": workload.try_id,
                "pid": proc.pid,
                "hostname": self.hostname,
                "worker": self.name,
                "at": proc.started_at.isoformat(),
            }
        )

    def _ended(self, finished: supervisor.FinishedTry) -> None:
        outcome = finished.outcome
        if finished.key in self.killed:
            self.killed.discard(finished.key)
            outcome = TryOutcome(
                TaskState.FAILED, SHUTDOWN_EXIT_REASON, error="stopped: the executor shut down"
            )
        message = {
            "event": "ended",
            "try_id": finished.key,
            "outcome": outcome.to_json(),
            "pid": finished.pid,
            "started_at": finished.started_at.isoformat(),
            "ended_at": finished.ended_at.isoformat(),
        }
        relpath = self.log_relpaths.pop(finished.key, "")
        if self.logs is not None and relpath:
            # Before the end is reported: the try's record then names the uploaded copy.
            message["log_location"] = self.logs.store_finished(relpath)
        self.emit(message)

    def _dag(self, workload: Workload) -> dag_versions.LoadedVersion:
        """The workload's DAG from its stored version (cached); or why it cannot be had."""
        cached = self.dags.get(workload.dag_version_id)
        if cached is None:
            cached = self._load(workload)
            self.dags[workload.dag_version_id] = cached
        return cached

    def _load(self, workload: Workload) -> dag_versions.LoadedVersion:
        source = self._stored_source(workload.dag_version_id)
        return dag_versions.load(
            Path(workload.fileloc),
            Path(workload.dags_folder),
            workload.request.dag_id,
            workload.version_hash,
            source=source.encode() if source else None,
        )

    def _stored_source(self, version_id: int) -> str | None:
        try:
            with self.engine.connect() as connection:
                # A deferred BEGIN on SQLite: reading must not take the write lock.
                connection.execution_options(**{db.READ_ONLY: True})
                return connection.execute(
                    sql_select(models.DagVersion.source_code).where(
                        models.DagVersion.id == version_id
                    )
                ).scalar()
        finally:
            self.engine.dispose()  # no connection may stay open across the forks


def main() -> None:
    # Ctrl-C in the terminal reaches the whole foreground group: the executor decides when
    # its workers stop (its tries run in their own process groups and never see it).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>`: where is this worker stuck?
    lifeline.from_environment()
    # Messages go on the original stdout; anything else this process prints goes to stderr.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    buffer = b""
    while b"\n" not in buffer:
        chunk = os.read(0, 65536)
        if not chunk:
            return
        buffer += chunk
    line, rest = buffer.split(b"\n", 1)
    worker = Worker(json.loads(line), out)

    def on_term(signum: int, frame: object) -> None:
        # The executor died (parent-death signal) or we are told to go: the try goes too.
        worker.supervisor.kill_all()
        os._exit(1)

    signal.signal(signal.SIGTERM, on_term)
    worker.emit({"event": "ready", "at": datetime.now(UTC).isoformat()})
    worker.serve(rest)


if __name__ == "__main__":
    main()
