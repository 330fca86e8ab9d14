"""Waking the scheduler at once, across processes on one machine (and, with ``announce``,
across machines on Postgres: the listening side is ``events.notifications``).

A scheduler binds a datagram socket in Linux's abstract namespace (no file, no path-length
limit, gone when the process is) and registers it with a marker file under
``$GNOMON_HOME/run``. Anything that changes what the scheduler should do (a trigger, a
cleared task, a new DAG version) calls ``notify(home)``, which sends one byte to every
registered scheduler. A lost or refused datagram costs only latency: the scheduler's slow
poll still finds the change in the database, which stays the one source of truth.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from pathlib import Path

from sqlalchemy.orm import Session

from gnomon.store import sql

_PREFIX = "wakeup-"


def _run_dir(home: Path) -> Path:
    return home / "run"


def _address(home: Path, pid: int) -> bytes:
    digest = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:16]
    return f"\0gnomon/{digest}/{pid}".encode()


class Listener:
    """The receiving end, owned by one scheduler process. ``fileno()`` for ``select``."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._pid = os.getpid()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(_address(home, self._pid))
        self._sock.setblocking(False)
        run_dir = _run_dir(home)
        run_dir.mkdir(parents=True, exist_ok=True)
        self._marker = run_dir / f"{_PREFIX}{self._pid}"
        self._marker.touch()

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> int:
        """Read every pending wake-up; how many there were."""
        count = 0
        while True:
            try:
                self._sock.recv(64)
            except (BlockingIOError, InterruptedError):
                return count
            count += 1

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._marker.unlink()
        self._sock.close()


def notify(home: Path) -> int:
    """Wake every scheduler registered under ``home``; how many were reached."""
    run_dir = _run_dir(home)
    try:
        markers = [p for p in run_dir.iterdir() if p.name.startswith(_PREFIX)]
    except OSError:
        return 0
    reached = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for marker in markers:
            try:
                pid = int(marker.name.removeprefix(_PREFIX))
            except ValueError:
                continue
            try:
                sock.sendto(b"!", _address(home, pid))
                reached += 1
            except (ConnectionRefusedError, FileNotFoundError):
                # The scheduler is gone (killed before it could clean up).
                with contextlib.suppress(OSError):
                    marker.unlink()
            except (BlockingIOError, OSError):
                # Its queue is full: it has plenty of wake-ups pending already.
                reached += 1
    return reached


#: The Postgres channel schedulers LISTEN on (``events.notifications``).
CHANNEL = "gnomon_wakeup"


def announce(
    session: Session, *, run_pk: int | None = None, left_behind: bool = False, failed: bool = False
) -> None:
    """Inside a transaction on Postgres: wake every scheduler when it commits (``NOTIFY`` is
    delivered at commit, never for a rollback). ``run_pk`` names the run whose instances
    changed, so a scheduler plans that run only (the run's owner among the live schedulers:
    ``scheduler.loop``); without it, everything may have changed. ``left_behind``: a
    scheduler had no slot for some of the run's scheduled instances, so every other one
    should look at it. ``failed``: a try of the run failed, so a retry may be due (the
    schedulers know of retries only from the database). On SQLite it does nothing (use
    :func:`notify` after the commit)."""
    found = notice(session, run_pk=run_pk, left_behind=left_behind, failed=failed)
    if found is not None:
        sql.pg_notify(session, *found)


def notice(
    session: Session, *, run_pk: int | None = None, left_behind: bool = False, failed: bool = False
) -> tuple[str, str] | None:
    """The channel and payload ``announce`` would send, for a statement that sends them
    itself (``store.transitions.set_try_then_ti_state``: one round trip less on the
    execution API's hottest write); None where there are no notifications (SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    kind = "left" if left_behind else "retry" if failed else "run"
    return CHANNEL, "*" if run_pk is None else f"{kind}:{run_pk}"
