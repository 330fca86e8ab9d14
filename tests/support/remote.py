"""Remote execution in tests: a broker stand-in for the scheduler's executor, the API as a
real server, and a remote worker process with no database settings.

``BrokerExecutor`` does what a Celery executor does on the scheduler's side (hand each
workload on with a start token) and nothing else: the tries are run by whoever takes the
messages, through the execution API.
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

from gnomon.executors import tokens
from gnomon.executors.base import Event, Workload
from gnomon.store import secrets
from support.processes import eventually
from support.standalone import free_port

EXECUTION = "/execution/v1"


def execution_key(home: Path) -> bytes:
    """The execution key of ``home`` (derived from its secret key, made if missing)."""
    return tokens.derive_key(secrets.load_or_create_key(home / "secret.key"))


@dataclass(frozen=True)
class Message:
    workload: Workload
    token: str

    @property
    def try_id(self) -> int:
        return self.workload.try_id

    def to_json(self) -> dict[str, Any]:
        return {"workload": self.workload.to_json(), "token": self.token}


class BrokerExecutor:
    """Queues each workload with a start token, as the broker message would carry it."""

    #: Like the Celery executor: its tries run on elsewhere when the scheduler stops.
    tries_outlive_scheduler = True

    def __init__(self, key: bytes, *, slots: int = 16, token_lifetime: float = 600.0) -> None:
        self.key = key
        self.slots = slots
        self.token_lifetime = token_lifetime
        self.messages: queue.Queue[Message] = queue.Queue()

    def start(self) -> None:
        pass

    @property
    def open_slots(self) -> int:
        return self.slots

    def submit(self, workload: Workload) -> None:
        token = tokens.issue(self.key, workload.try_id, "start", self.token_lifetime)
        self.messages.put(Message(workload, token))

    def fileno_list(self) -> list[int]:
        return []

    def collect(self) -> list[Event]:
        return []

    def running_try_ids(self) -> list[int]:
        return []  # the workers heartbeat through the API

    def kill(self, try_id: int) -> None:
        pass

    def stop(self, grace: float) -> list[Event]:
        return []

    def next(self, timeout: float = 30.0) -> Message:
        """The next message, waiting for the scheduler to queue one."""
        return self.messages.get(timeout=timeout)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any GNOMON_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
    return {**env, **extra}


class ApiServer:
    """``gnomon api`` as a subprocess on ``db_url`` with ``home`` (whose secret key it shares
    with the test), on a free port that stays the same across restarts."""

    def __init__(self, db_url: str, home: Path, log: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = clean_environment(GNOMON_DB_URL=db_url, GNOMON_HOME=str(home), **settings)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ApiServer:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gnomon.cli.main", "api", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = self.process

        def ready() -> bool:
            try:
                return httpx.get(f"{self.url}/health", timeout=2).status_code in (200, 503)
            except httpx.HTTPError:
                return process.poll() is not None

        assert eventually(ready, 60), f"the API did not start: {self.log.read_text()}"
        assert process.poll() is None, f"the API exited: {self.log.read_text()}"
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def api_server(db_url: str, home: Path, log: Path, **settings: str) -> Iterator[ApiServer]:
    """A started ``ApiServer``, stopped at the end."""
    server = ApiServer(db_url, home, log, **settings).start()
    try:
        yield server
    finally:
        server.stop()


class RemoteWorker:
    """``python -m support.remote_worker`` with no database settings: it runs the messages
    written to its stdin with a ``TryRunner`` and writes each result as a JSON line."""

    def __init__(
        self,
        api_url: str,
        root: Path,
        name: str = "remote-1",
        *,
        tries_per_process: int = 1,
        **environment: str,
    ) -> None:
        self.home = root / f"{name}-home"  # holds no database, no secret key
        self.home.mkdir()
        self.logs_folder = self.home / "logs"
        config = {
            "api_url": api_url + EXECUTION,
            "logs_folder": str(self.logs_folder),
            "cache_folder": str(self.home / "cache"),
            "worker": name,
            "tries_per_process": tries_per_process,
        }
        tests_dir = str(Path(__file__).resolve().parent.parent)
        env = clean_environment(GNOMON_HOME=str(self.home), PYTHONPATH=tests_dir, **environment)
        self.stderr = (root / f"{name}.stderr").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "support.remote_worker", json.dumps(config)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            start_new_session=True,
        )

    def send(self, message: Message) -> None:
        """Hand the worker one message (it runs one at a time, in order)."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message.to_json()).encode() + b"\n")
        self.process.stdin.flush()

    def answer(self, timeout: float = 120.0) -> dict[str, Any]:
        """The result of the next message, once its try ended (``RunResult.to_json``)."""
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert readable, f"the worker did not answer within {timeout:g}s"
        line = self.process.stdout.readline()
        assert line, f"the worker died: exit code {self.process.wait()}"
        found: dict[str, Any] = json.loads(line)
        return found

    def run(self, message: Message) -> dict[str, Any]:
        self.send(message)
        return self.answer()

    def run_in_turn(self, messages: list[Message]) -> dict[str, Any]:
        """Run ``messages`` as one ``run_tries`` message: ``{"results", "starts"}``."""
        assert self.process.stdin is not None
        line = json.dumps({"tries": [m.to_json() for m in messages]})
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()
        return self.answer()

    def stop(self) -> None:
        """SIGTERM: the worker asks its runner to stop (its try gets a short grace)."""
        self.process.send_signal(signal.SIGTERM)

    def close(self) -> dict[str, Any]:
        """Let the worker end; what it says about itself (the database modules it imported)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        found = self.answer()
        self.process.wait(timeout=30)
        self.stderr.close()
        return found

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.stderr):
            if stream is not None:
                stream.close()
