"""Waiting for conditions and for processes to end, without sleeping blindly."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path


def eventually(condition: Callable[[], bool], within: float = 3.0) -> bool:
    """Poll ``condition`` until it holds or ``within`` seconds pass; return its last value."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            return condition()
        time.sleep(0.02)
    return True


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Like ``eventually``, but fail the test if the condition never holds."""
    assert eventually(condition, timeout), "condition not met in time"


def _stats() -> Iterator[tuple[int, list[str]]]:
    """Each process's pid and the fields of its /proc stat after the command name (state,
    ppid, pgrp, session, ...)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        yield int(entry.name), stat.rsplit(")", 1)[1].split()


def is_gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for its (new) parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone before the open or before the read
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid``, from /proc."""
    return [child for child, fields in _stats() if int(fields[1]) == pid]


def session_members(sid: int) -> list[int]:
    """The live processes (zombies aside) of session ``sid``."""
    return [
        member
        for member, fields in _stats()
        if int(fields[3]) == sid and fields[0] not in ("Z", "X")
    ]
