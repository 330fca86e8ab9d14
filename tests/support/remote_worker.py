"""A remote worker for tests (``python -m support.remote_worker CONFIG_JSON``), as the Celery
task would run tries: one warm process, a ``TryRunner``, messages in, results out.

Reads ``{"workload", "token"}`` lines on stdin and answers each with the ``RunResult`` as a
JSON line on stdout. SIGTERM stops the running try (``TryRunner.request_stop``). When stdin
closes it writes the database modules it imported (none, if it really ran without the
database) and exits.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from pathlib import Path

from gnomon.executors.remote import RunnerConfig, TryRunner

#: Seconds a running try gets to end after SIGTERM.
STOP_GRACE = 0.5


def main() -> None:
    config = json.loads(sys.argv[1])
    runner = TryRunner(
        RunnerConfig(
            api_url=config["api_url"],
            logs_folder=Path(config["logs_folder"]),
            cache_folder=Path(config["cache_folder"]),
            worker=config["worker"],
            hostname=socket.gethostname(),
            kill_grace=1.0,
            request_timeout=10.0,
        )
    )
    # As a Celery worker's shutdown would: the running try gets a short grace, then is killed.
    signal.signal(signal.SIGTERM, lambda signum, frame: runner.request_stop(STOP_GRACE))
    out = sys.stdout
    for line in sys.stdin:
        message = json.loads(line)
        result = runner.run(message["workload"], message["token"])
        out.write(json.dumps(result.to_json()) + "\n")
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
