"""A remote worker for tests (``python -m support.remote_worker CONFIG_JSON``), as the Celery
task would run tries: one warm process, a ``TryRunner``, messages in, results out.

Reads ``{"workload", "token"}`` lines on stdin and answers each with the ``RunResult`` as a
JSON line on stdout; a ``{"tries": [...]}`` line (a ``run_tries`` message) is answered with
``{"results": [...], "starts": N}``, N the ``start`` requests it took. SIGTERM stops the
running try (``TryRunner.request_stop``). When stdin closes it writes the database modules
it imported (none, if it really ran without the database) and exits.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from pathlib import Path

from gnomon.executors.execution_client import Claim, ExecutionClient, StartAnswer
from gnomon.executors.in_turn import run_in_turn
from gnomon.executors.remote import RunnerConfig, TryRunner


class CountingClient(ExecutionClient):
    """Counts the ``start`` requests it sends."""

    starts = 0

    def start(
        self, try_id: int, token: str, claim: Claim, *, retry_for: float = 60.0
    ) -> StartAnswer:
        self.starts += 1
        return super().start(try_id, token, claim, retry_for=retry_for)


#: Seconds a running try gets to end after SIGTERM.
STOP_GRACE = 0.5


def main() -> None:
    config = json.loads(sys.argv[1])
    client = CountingClient(config["api_url"], 10.0)
    runner = TryRunner(
        RunnerConfig(
            api_url=config["api_url"],
            logs_folder=Path(config["logs_folder"]),
            cache_folder=Path(config["cache_folder"]),
            worker=config["worker"],
            hostname=socket.gethostname(),
            kill_grace=1.0,
            request_timeout=10.0,
            tries_per_process=config.get("tries_per_process", 1),
        ),
        client,
    )
    # As a Celery worker's shutdown would: the running try gets a short grace, then is killed.
    signal.signal(signal.SIGTERM, lambda signum, frame: runner.request_stop(STOP_GRACE))
    out = sys.stdout
    for line in sys.stdin:
        message = json.loads(line)
        if "tries" in message:
            before = client.starts
            results = [r.to_json() for r in run_in_turn(runner, message["tries"])]
            answer = {"results": results, "starts": client.starts - before}
        else:
            answer = runner.run(message["workload"], message["token"]).to_json()
        out.write(json.dumps(answer) + "\n")
        out.flush()
    roots = ("sqlalchemy", "psycopg", "alembic")
    database = sorted(
        name
        for name in sys.modules
        if name.split(".")[0] in roots or name.startswith("gnomon.store")
    )
    out.write(json.dumps({"database_modules": database}) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
