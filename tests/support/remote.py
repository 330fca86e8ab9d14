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


@contextmanager
def api_server(db_url: str, home: Path, log: Path) -> Iterator[str]:
    """``gnomon api`` on a free port, on ``db_url`` with ``home``; yields its base URL."""
    port = free_port()
    env = clean_environment(GNOMON_DB_URL=db_url, GNOMON_HOME=str(home))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gnomon.cli.main", "api", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code in (200, 503)
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        assert eventually(ready, 60), f"the API did not start: {log.read_text()}"
        assert process.poll() is None, f"the API exited: {log.read_text()}"
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class RemoteWorker:
    """``python -m support.remote_worker`` with no database settings: it runs the messages
    written to its stdin with a ``TryRunner`` and writes each result as a JSON line."""

    def __init__(self, api_url: str, root: Path, name: str = "remote-1") -> None:
        self.home = root / f"{name}-home"  # holds no database, no secret key
        self.home.mkdir()
        config = {
            "api_url": api_url + EXECUTION,
            "logs_folder": str(self.home / "logs"),
            "cache_folder": str(self.home / "cache"),
            "worker": name,
        }
        tests_dir = str(Path(__file__).resolve().parent.parent)
        env = clean_environment(GNOMON_HOME=str(self.home), PYTHONPATH=tests_dir)
        self.stderr = (root / f"{name}.stderr").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "support.remote_worker", json.dumps(config)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            start_new_session=True,
        )

    def run(self, message: Message) -> dict[str, Any]:
        """Hand the worker one message; its result once the try ended."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(message.to_json()).encode() + b"\n")
        self.process.stdin.flush()
        return self._answer()

    def _answer(self, timeout: float = 120.0) -> dict[str, Any]:
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert readable, f"the worker did not answer within {timeout:g}s"
        line = self.process.stdout.readline()
        assert line, f"the worker died: exit code {self.process.wait()}"
        found: dict[str, Any] = json.loads(line)
        return found

    def close(self) -> dict[str, Any]:
        """Stop the worker; what it reports about itself (the modules it imported)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        found = self._answer()
        self.process.wait(timeout=30)
        self.stderr.close()
        return found

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.stderr.close()
