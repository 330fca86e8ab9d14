"""The local executor: a pool of warm worker processes on this machine, one try each.

Workers are started once (``python -m gnomon.executors.local_worker``) and fork every try
from themselves. The executor speaks to each over its stdin/stdout (JSON lines); the
scheduler ``select``s on the workers' stdout together with its own wake-ups, so a try's end
reaches it the moment the worker reports it.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gnomon.executors.base import Event, TryEnded, TryStarted, Workload
from gnomon.runtime import lifeline, logstore
from gnomon.runtime.protocol import TryOutcome

WORKER_MODULE = "gnomon.executors.local_worker"


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes]
    try_id: int | None = None
    try_pid: int | None = None
    buffer: bytes = b""
    dead: bool = False
    events: list[Event] = field(default_factory=list)

    @property
    def fd(self) -> int:
        assert self.process.stdout is not None
        return self.process.stdout.fileno()


class LocalExecutor:
    #: Its workers die with the scheduler (``runtime.lifeline``), and their tries with them.
    tries_outlive_scheduler = False

    def __init__(
        self,
        *,
        parallelism: int,
        db_url: str,
        kill_grace: float,
        xcom_max_bytes: int,
        name: str = "local",
        logs_folder: Path | None = None,
        log_url: str | None = None,
        log_storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        """With ``log_url`` naming a remote store (and ``logs_folder``, where tries write
        their logs), workers copy each finished try's log there and report its location."""
        self.parallelism = parallelism
        self.name = name
        self._config: dict[str, Any] = {
            "db_url": db_url,
            "kill_grace": kill_grace,
            "xcom_max_bytes": xcom_max_bytes,
        }
        if log_url is not None and logs_folder is not None:
            options = dict(log_storage_options or {})
            # Checked here, where a bad URL stops the command, rather than in every worker.
            if logstore.LogStore(log_url, logs_folder, options).remote:
                self._config["logs"] = {
                    "url": log_url,
                    "folder": str(logs_folder),
                    "storage_options": options,
                }
        self._workers: list[_Worker] = []
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._workers = [self._spawn(i) for i in range(self.parallelism)]

    def _spawn(self, index: int) -> _Worker:
        process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            env=lifeline.child_environment(),
        )
        assert process.stdin is not None and process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        config = {**self._config, "name": f"{self.name}-{index}"}
        process.stdin.write(json.dumps(config).encode() + b"\n")
        process.stdin.flush()
        return _Worker(index, process)

    @property
    def open_slots(self) -> int:
        if self._stopping:
            return 0
        return sum(1 for w in self._workers if w.try_id is None and not w.dead)

    def submit(self, workload: Workload) -> None:
        worker = next(w for w in self._workers if w.try_id is None and not w.dead)
        worker.try_id = workload.try_id
        worker.try_pid = None
        self._send(worker, {"cmd": "run", "workload": workload.to_json()})

    def _send(self, worker: _Worker, message: dict[str, object]) -> None:
        assert worker.process.stdin is not None
        try:
            worker.process.stdin.write(json.dumps(message).encode() + b"\n")
            worker.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._lost(worker)

    def fileno_list(self) -> list[int]:
        return [w.fd for w in self._workers if not w.dead]

    def running_try_ids(self) -> list[int]:
        return [w.try_id for w in self._workers if w.try_id is not None and not w.dead]

    # -- events ------------------------------------------------------------------------------
    def collect(self) -> list[Event]:
        events: list[Event] = []
        for worker in list(self._workers):
            if not worker.dead:
                self._read(worker)
            if not worker.dead and worker.process.poll() is not None:
                self._read(worker)  # what it said before it died
                self._lost(worker)
            events.extend(worker.events)
            worker.events.clear()
        self._replace_dead()
        return events

    def _read(self, worker: _Worker) -> None:
        assert worker.process.stdout is not None
        while True:
            try:
                chunk = os.read(worker.fd, 1 << 20)
            except BlockingIOError:
                return
            if not chunk:
                self._lost(worker)
                return
            worker.buffer += chunk
            *lines, worker.buffer = worker.buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    self._on_message(worker, json.loads(line))

    def _on_message(self, worker: _Worker, message: dict[str, object]) -> None:
        kind = message["event"]
        if kind == "started":
            worker.try_pid = int(str(message["pid"]))
            worker.events.append(
                TryStarted(
                    try_id=int(str(message["try_id"])),
                    pid=worker.try_pid,
                    hostname=str(message["hostname"]),
                    worker=str(message["worker"]),
                    started_at=datetime.fromisoformat(str(message["at"])),
                )
            )
        elif kind == "ended":
            outcome = message["outcome"]
            assert isinstance(outcome, dict)
            location = message.get("log_location")
            worker.events.append(
                TryEnded(
                    try_id=int(str(message["try_id"])),
                    outcome=TryOutcome.from_json(outcome),
                    pid=int(str(message["pid"])),
                    started_at=datetime.fromisoformat(str(message["started_at"])),
                    ended_at=datetime.fromisoformat(str(message["ended_at"])),
                    log_location=str(location) if location else None,
                )
            )
            worker.try_id = None
            worker.try_pid = None

    def _lost(self, worker: _Worker) -> None:
        """The worker died (killed, crashed). Its try stops heartbeating: the scheduler will
        find it silent and fail it as a zombie. Kill what the try left behind."""
        if worker.dead:
            return
        worker.dead = True
        if worker.try_id is not None and worker.try_pid is None:
            # It died before its try started: nothing ran, nothing will heartbeat.
            worker.events.append(
                TryEnded(
                    try_id=worker.try_id,
                    outcome=TryOutcome.crashed("the worker process died before the try started"),
                    pid=None,
                    started_at=None,
                    ended_at=datetime.now(UTC),
                )
            )
        if worker.try_pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(worker.try_pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()
        worker.process.wait()
        for stream in (worker.process.stdin, worker.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()

    def _replace_dead(self) -> None:
        if self._stopping:
            return
        for i, worker in enumerate(self._workers):
            if worker.dead:
                self._workers[i] = self._spawn(worker.index)

    def kill(self, try_id: int) -> None:
        for worker in self._workers:
            if worker.try_id == try_id and not worker.dead:
                self._send(worker, {"cmd": "kill"})

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if not w.dead]

    # -- stopping ----------------------------------------------------------------------------
    def stop(self, grace: float) -> list[Event]:
        """Let running tries end for up to ``grace`` seconds, kill the rest (they end with
        exit reason ``shutdown``), then stop the workers."""
        self._stopping = True
        events: list[Event] = []
        deadline = time.monotonic() + grace
        while self.running_try_ids() and time.monotonic() < deadline:
            self._wait(deadline - time.monotonic())
            events.extend(self.collect())
        for worker in self._workers:
            if worker.try_id is not None and not worker.dead:
                self._send(worker, {"cmd": "kill"})
        deadline = time.monotonic() + 10
        while self.running_try_ids() and time.monotonic() < deadline:
            self._wait(deadline - time.monotonic())
            events.extend(self.collect())
        for worker in self._workers:
            if worker.dead:
                continue
            with contextlib.suppress(OSError):
                assert worker.process.stdin is not None
                worker.process.stdin.close()
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            with contextlib.suppress(OSError):
                assert worker.process.stdout is not None
                worker.process.stdout.close()
            worker.dead = True
        return events

    def _wait(self, timeout: float) -> None:
        fds = self.fileno_list()
        if fds:
            select.select(fds, [], [], max(0.0, timeout))
