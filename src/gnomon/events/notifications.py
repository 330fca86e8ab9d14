"""Waking schedulers across machines: Postgres ``LISTEN`` on the channel ``announce`` uses.

A scheduler keeps one connection of its own, in autocommit, listening on
``wakeups.CHANNEL``; its socket goes into the scheduler's ``select`` beside the local
wake-up socket and the executor's pipes, and notifications are read without blocking. The
payloads (``wakeups.announce``): ``run:<pk>``, that run's instances changed (plan that run,
if this scheduler owns it); ``retry:<pk>``, the same, and a try of it failed (a retry may be
due: look for the next one); ``left:<pk>``, a scheduler had no slot for some of that run's
instances (any other may take them); ``*``, anything may have changed (sweep). A scheduler
that does not know a payload's kind sweeps.

A notification is only a hint, like the local wake-up: the database stays the truth, and the
slow poll finds whatever a lost notification would have said. So a dropped connection
(Postgres restarting, a network blip) is not an error: the listener closes it, reconnects
with backoff, and, once listening again, reports everything as changed, since notifications
sent while it was away are lost.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import psycopg

from gnomon.events.wakeups import CHANNEL

log = logging.getLogger(__name__)

Connect = Callable[[], "psycopg.Connection[Any]"]


@dataclass(frozen=True, slots=True)
class Wakeup:
    """What the notifications read so far say."""

    #: Runs whose instances changed.
    runs: frozenset[int] = frozenset()
    #: Anything may have changed (a ``*``, an unreadable payload, or a reconnection).
    everything: bool = False
    #: Runs with scheduled instances another scheduler had no slot for.
    left_behind: frozenset[int] = frozenset()
    #: A try failed: a retry may be due.
    failed: bool = False

    def __bool__(self) -> bool:
        return self.everything or bool(self.runs) or bool(self.left_behind)


def parse(payloads: Collection[str]) -> Wakeup:
    """Fold payloads into one ``Wakeup``; an unknown payload counts as ``*``."""
    found: set[int] = set()
    left: set[int] = set()
    everything = failed = False
    for payload in payloads:
        kind, _, value = payload.partition(":")
        if not value.isdigit():
            everything = True
        elif kind in ("run", "retry"):
            found.add(int(value))
            failed = failed or kind == "retry"
        elif kind == "left":
            left.add(int(value))
        else:
            everything = True
    return Wakeup(frozenset(found), everything, frozenset(left), failed)


class PostgresListener:
    """``LISTEN`` on a dedicated connection; ``fileno()`` for ``select``, ``receive()`` to read.

    ``connect`` makes a new autocommit connection (it may raise; the listener retries with
    backoff from ``min_backoff`` doubling to ``max_backoff`` seconds). Not thread-safe: owned
    by the scheduler's loop.
    """

    def __init__(
        self, connect: Connect, *, min_backoff: float = 0.5, max_backoff: float = 30.0
    ) -> None:
        self._connect = connect
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._backoff = min_backoff
        self._connection: psycopg.Connection[Any] | None = None
        self._next_attempt = 0.0
        self._missed = False  # notifications may have been lost: report everything once
        self.ignored_pids: set[int] = set()
        self._try_connect()

    @property
    def connected(self) -> bool:
        return self._connection is not None

    def fileno(self) -> int | None:
        """The connection's socket (readable when notifications arrive or it drops); None
        while disconnected."""
        return None if self._connection is None else self._connection.fileno()

    def next_attempt(self) -> float | None:
        """While disconnected: when (``time.monotonic()``) to call ``receive`` to reconnect."""
        return None if self._connection is not None else self._next_attempt

    def receive(self) -> Wakeup:
        """Read what has arrived, without waiting; reconnect first if disconnected and due.

        Notifications from a backend in ``ignored_pids`` (the caller's own announcements) are
        dropped."""
        due = time.monotonic() >= self._next_attempt
        if self._connection is None and (not due or not self._try_connect()):
            return Wakeup()
        assert self._connection is not None
        payloads: list[str] = []
        try:
            for notify in self._connection.notifies(timeout=0):
                if notify.pid not in self.ignored_pids:
                    payloads.append(notify.payload)
        except psycopg.Error as exc:
            log.warning("wake-ups across machines: lost the LISTEN connection: %s", exc)
            self._drop()
        wakeup = parse(payloads)
        if self._missed and self._connection is not None:
            self._missed = False
            return Wakeup(wakeup.runs, True, wakeup.left_behind, wakeup.failed)
        return wakeup

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()
            self._connection = None

    def _try_connect(self) -> bool:
        connection: psycopg.Connection[Any] | None = None
        try:
            connection = self._connect()
            connection.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:  # the driver's errors, or the connect callable's own
            if connection is not None:
                with contextlib.suppress(psycopg.Error):
                    connection.close()
            self._next_attempt = time.monotonic() + self._backoff
            log.warning(
                "wake-ups across machines: cannot LISTEN (retrying in %.1fs): %s",
                self._backoff,
                exc,
            )
            self._backoff = min(self._backoff * 2, self._max_backoff)
            self._missed = True
            return False
        self._connection = connection
        self._backoff = self._min_backoff
        return True

    def _drop(self) -> None:
        self.close()
        self._missed = True
        self._next_attempt = time.monotonic()  # the first reconnection is at once
