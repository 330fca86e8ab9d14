"""``gnomon scheduler`` processes sharing one database, each with a GNOMON_HOME of its own, as
on separate machines: the local wake-up socket cannot reach across homes, Postgres NOTIFY can."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from support.processes import children_of, is_gone, wait_for


class SchedulerProcess:
    def __init__(
        self, root: Path, name: str, db_url: str, dags_folder: Path, settings: Mapping[str, str]
    ) -> None:
        self.home = root / name
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path = root / f"{name}.log"
        self.dags_folder = dags_folder
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")},
            "GNOMON_HOME": str(self.home),
            "GNOMON_DB_URL": db_url,
            "GNOMON_SHUTDOWN_GRACE": "2",
            **settings,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SchedulerProcess:
        command = [sys.executable, "-m", "gnomon.cli.main", "scheduler"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--dags-folder", str(self.dags_folder)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill_9(self) -> None:
        """SIGKILL the scheduler process only, as a crash would; wait until its warm workers
        (which die with it) are gone too."""
        assert self.process is not None
        children = children_of(self.pid)
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait()
        wait_for(lambda: all(is_gone(pid) for pid in children), timeout=15)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
