"""A Celery worker that stops on an error of its own ("Unrecoverable error", as Celery's
Redis transport can raise while it closes a connection a restarted broker dropped) is
started again in the same ``gnomon worker`` process, which still stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.processes import wait_for
from support.services import PrivateRedis

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).parents[2] / "support" / "failing_worker.py"


def test_a_worker_whose_celery_worker_failed_is_started_again(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
    env.update(
        GNOMON_HOME=str(tmp_path / "home"),
        GNOMON_BROKER_URL=private_redis.url,
        GNOMON_EXECUTION_API_URL="http://127.0.0.1:9",  # no try comes: never called
        GNOMON_WORKER_LOG_SERVER_PORT="0",
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--concurrency", "1", "--queues", "default"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:

        def ready_again() -> bool:
            text = log.read_text(errors="replace")
            restart = text.find("starting it again")
            return restart >= 0 and text.find(" ready.", restart) >= 0

        wait_for(ready_again, timeout=60)
        text = log.read_text(errors="replace")
        assert "Unrecoverable error" in text and "injected by the test" in text
        assert process.poll() is None, text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text(errors="replace")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
