"""``celery_worker.keep_running``: when the Celery worker is started again, and when not."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from gnomon.executors.celery_worker import keep_running


class Clock:
    """Time that passes only when a worker runs (``start`` advances it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _worker(clock: Clock, runs: Iterator[tuple[float, int]]) -> tuple[Callable[[], int], list[int]]:
    """A start that runs for the next (seconds, exit code) of ``runs``; the codes seen."""
    seen: list[int] = []

    def start() -> int:
        seconds, code = next(runs)
        clock.now += seconds
        seen.append(code)
        return code

    return start, seen


def _no_pause(seconds: float) -> bool:
    """The pauses between starts, not waited for (no shutdown comes meanwhile)."""
    return False


def test_a_worker_that_failed_on_its_own_is_started_again_until_it_stops_cleanly() -> None:
    clock = Clock()
    start, seen = _worker(clock, iter([(300.0, 1), (5.0, 1), (100.0, 0)]))
    assert keep_running(start, threading.Event(), clock=clock, pause=_no_pause) == 0
    assert seen == [1, 1, 0]


def test_a_worker_stopped_by_a_shutdown_is_not_started_again() -> None:
    clock = Clock()
    stopping = threading.Event()
    stopping.set()  # a signal arrived; Celery's stop then reports a failure code
    start, seen = _worker(clock, iter([(10.0, 1), (10.0, 0)]))
    assert keep_running(start, stopping, clock=clock) == 1
    assert seen == [1]


def test_it_gives_up_after_failures_in_a_row_each_soon_after_its_start() -> None:
    clock = Clock()
    start, seen = _worker(clock, iter([(1.0, 1)] * 10))
    assert (
        keep_running(start, threading.Event(), clock=clock, pause=_no_pause, give_up_after=3) == 1
    )
    assert seen == [1, 1, 1]


def test_a_failure_after_a_long_run_starts_the_count_of_quick_failures_again() -> None:
    clock = Clock()
    runs = [(1.0, 1), (1.0, 1), (600.0, 1), (1.0, 1), (1.0, 1)]
    start, seen = _worker(clock, iter(runs))
    assert (
        keep_running(start, threading.Event(), clock=clock, pause=_no_pause, give_up_after=3) == 1
    )
    # Two quick ones, then a long run resets the count: three more before it gives up.
    assert seen == [1, 1, 1, 1, 1]


def test_a_shutdown_during_the_pause_stops_it() -> None:
    clock = Clock()
    stopping = threading.Event()

    def start() -> int:
        clock.now += 1.0
        threading.Timer(0.05, stopping.set).start()
        return 1

    # Without the shutdown it would wait 2 s and start again; it returns once it is asked.
    assert keep_running(start, stopping, clock=clock) == 1
