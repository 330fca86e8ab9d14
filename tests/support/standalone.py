"""``gnomon standalone`` as a subprocess, as a user runs it, and the CLI beside it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from support.cli import gnomon


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    [port] = free_ports(1)
    return port


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports on loopback free now (all held at once, so none repeats)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


#: Where a test's fixture keeps its standalone, for its log in the test's failure report.
STANDALONE = pytest.StashKey["Standalone"]()


class Standalone:
    def __init__(self, root: Path, db_url: str, dags_folder: Path) -> None:
        self.root = root
        self.dags_folder = dags_folder
        self.env = {
            "GNOMON_DB_URL": db_url,
            "GNOMON_DAGS_ARE_PAUSED_AT_CREATION": "false",
            "GNOMON_TASK_HEARTBEAT_TIMEOUT": "3",
            "GNOMON_PARALLELISM": "2",
            "GNOMON_SHUTDOWN_GRACE": "2",
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.port = free_port()

    def start(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
        command = [
            sys.executable,
            "-m",
            "gnomon.cli.main",
            "standalone",
            "--port",
            str(self.port),
            "--dags-folder",
        ]
        with (self.root / f"standalone-{len(self.processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                [*command, str(self.dags_folder)],
                env={**env, **self.env, "GNOMON_HOME": str(self.root / "home")},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return gnomon(self.root / "home", *args, env=self.env)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

    def logs(self) -> str:
        """Every standalone's output so far."""
        parts = []
        for index in range(len(self.processes)):
            path = self.root / f"standalone-{index}.log"
            if path.exists():
                parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')}")
        return "\n".join(parts)
