"""Child processes that must not outlive their parent (workers, the DAG processor).

A parent killed with SIGKILL cannot clean up. The child asks Linux to send it SIGTERM when
its parent dies (``PR_SET_PDEATHSIG``), then checks that the parent it was started by is
still its parent, in case it died before the request was made.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Callable

#: Set by a parent to its pid: the child (``gnomon`` command) calls ``die_with_parent``.
ENV = "GNOMON_DIE_WITH_PARENT"
_PR_SET_PDEATHSIG = 1


def _find_prctl() -> Callable[..., int] | None:
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None
    return prctl


#: Looked up once, at import: a warm process forks a try per task, each calling it.
_prctl = _find_prctl()


def die_with_parent(parent_pid: int, sig: signal.Signals = signal.SIGTERM) -> None:
    """Get ``sig`` when ``parent_pid`` (this process' parent) dies; exit now if it has."""
    if _prctl is not None:
        with contextlib.suppress(OSError):
            _prctl(_PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent_pid:
        os._exit(1)


def from_environment() -> None:
    """``die_with_parent`` if the parent asked for it through ``GNOMON_DIE_WITH_PARENT``."""
    value = os.environ.pop(ENV, "")
    if value.isdigit():
        die_with_parent(int(value))


def child_environment() -> dict[str, str]:
    """The environment for a child that must die with this process."""
    return {**os.environ, ENV: str(os.getpid())}
