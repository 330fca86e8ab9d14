from __future__ import annotations

import select
from pathlib import Path

from gnomon.events import wakeups


def test_notify_wakes_a_registered_listener(tmp_path: Path) -> None:
    listener = wakeups.Listener(tmp_path)
    try:
        assert wakeups.notify(tmp_path) == 1
        readable, _, _ = select.select([listener], [], [], 5)
        assert readable == [listener]
        assert listener.drain() == 1
    finally:
        listener.close()


def test_notify_reaches_nobody_once_the_listener_closed(tmp_path: Path) -> None:
    wakeups.Listener(tmp_path).close()
    assert wakeups.notify(tmp_path) == 0


def test_notify_forgets_a_listener_that_died_without_closing(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    stale = tmp_path / "run" / "wakeup-999999999"
    stale.touch()
    assert wakeups.notify(tmp_path) == 0
    assert not stale.exists()


def test_listeners_of_two_homes_do_not_hear_each_other(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = wakeups.Listener(tmp_path / "a")
    try:
        assert wakeups.notify(tmp_path / "b") == 0
        assert a.drain() == 0
    finally:
        a.close()
