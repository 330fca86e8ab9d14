"""Asking a component's loop to stop, from another thread or from a signal handler."""

from __future__ import annotations

import contextlib
import os
import select
from types import TracebackType
from typing import Protocol


class Stop(Protocol):
    """What a loop needs to stop promptly: ``threading.Event`` is one."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class StopFlag:
    """A stop request that a signal handler may make (``set``) and a loop waits on.

    ``threading.Event.set`` takes a lock that an ``Event.wait`` interrupted in the same
    thread may be holding, so calling it from a signal handler can deadlock. This is a flag
    and a byte written to a pipe: no lock, and ``wait`` (a ``select`` on the pipe) returns as
    soon as the byte arrives, whichever thread or handler wrote it.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._set = False

    def set(self) -> None:
        self._set = True
        # A full pipe already holds a wake-up; a closed one has nobody left to wake.
        with contextlib.suppress(OSError):
            os.write(self._write, b"!")

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        """Return when set or after ``timeout`` seconds; whether it is set."""
        if not self._set:
            select.select([self._read], [], [], timeout)
        return self._set

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)

    def __enter__(self) -> StopFlag:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
