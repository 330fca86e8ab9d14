"""The forked child that imports one DAG file and sends its result to the parent as JSON.

Everything here runs after ``os.fork()``: it never returns and never raises, it leaves through
``os._exit`` (no atexit handlers, no flushing of buffers the parent also holds, no test
runner teardown when the parent is pytest).
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from gnomon.dagfiles import loader

#: Exit code of a child whose own machinery failed (not the DAG file).
INTERNAL_ERROR = 70
#: Seconds after the parent's deadline at which the child kills itself anyway (the parent
#: may have died without killing it).
BACKSTOP_S = 5.0


def dump_delay(timeout: float) -> float:
    """When the child dumps its stack (so a timeout can say where the import was stuck):
    shortly before the parent's deadline."""
    return max(timeout * 0.8, timeout - 1.0)


def run(
    path: Path, dags_folder: Path | None, timeout: float, write_fd: int, err_fd: int
) -> NoReturn:
    """Import ``path``, write the JSON result to ``write_fd``, and exit; never returns."""
    code = INTERNAL_ERROR
    try:
        os.setpgid(0, 0)
        _isolate(err_fd)
        faulthandler.enable(file=2)
        faulthandler.dump_traceback_later(dump_delay(timeout), file=2)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, timeout + BACKSTOP_S)
        payload = encode(loader.load_file(path, dags_folder))
        faulthandler.cancel_dump_traceback_later()
        _write_all(write_fd, payload)
        code = 0
    except BaseException:
        _report_internal_error()
    finally:
        _flush()
        os._exit(code)


def _isolate(err_fd: int) -> None:
    """stdin from /dev/null; stdout and stderr (prints, crash dumps) to the file ``err_fd``."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(err_fd, 1)
    os.dup2(err_fd, 2)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives until os._exit
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115


def encode(loaded: loader.LoadedFile) -> bytes:
    """The child's answer: ``{"dags": [...], "error": str | None, "line": int | None}``."""
    result: dict[str, Any] = {
        "dags": [
            {"dag_id": d.dag_id, "serialized": d.serialized, "version_hash": d.version_hash}
            for d in loaded.dags
        ],
        "error": loaded.error,
        "line": loaded.line,
    }
    try:
        return json.dumps(result, default=str).encode()
    except (TypeError, ValueError) as exc:
        error = f"cannot serialize the DAGs of {loaded.file} to JSON: {exc}"
        return json.dumps({"dags": [], "error": error, "line": None}).encode()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        # A stream the DAG file replaced must not stop the exit.
        with contextlib.suppress(BaseException):
            stream.flush()


def _report_internal_error() -> None:
    with contextlib.suppress(OSError):
        os.write(2, traceback.format_exc().encode(errors="replace"))
