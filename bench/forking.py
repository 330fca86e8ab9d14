"""The cost of one try's process on its own: ``runtime.supervisor`` forking a no-op try from
this (warm) process, as a local worker does, without the scheduler or the database; and,
for scale, a bare ``fork`` + ``_exit`` + ``waitpid`` of the same process."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

from bench.metrics import summary_ms
from gnomon.runtime import supervisor
from gnomon.runtime.protocol import TryOutcome
from gnomon.semantics.states import TaskState


def _noop() -> TryOutcome:
    return TryOutcome(TaskState.SUCCESS, "success")


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _timed(count: int, one: Callable[[int], None]) -> dict[str, object]:
    walls: list[float] = []
    own_before, children_before = _cpu()
    for i in range(count):
        began = time.perf_counter()
        one(i)
        walls.append(time.perf_counter() - began)
    own_after, children_after = _cpu()
    return {
        "wall_ms": summary_ms(walls),
        "parent_cpu_ms_per_try": round((own_after - own_before) * 1000 / count, 3),
        "child_cpu_ms_per_try": round((children_after - children_before) * 1000 / count, 3),
    }


def measure(count: int, logs: Path) -> dict[str, object]:
    """Run ``count`` no-op tries one after the other (each with a log file), then ``count``
    bare forks; wall time from start to reaped, and CPU time per try of this process and of
    the children."""
    runner = supervisor.Supervisor(kill_grace=1.0)

    def one_try(i: int) -> None:
        runner.start(i, _noop, label=f"noop#{i}", log_path=logs / f"{i}.log")
        while not runner.poll(0.2):
            pass

    def bare_fork(i: int) -> None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os._exit(0)
        os.waitpid(pid, 0)

    with open("/proc/self/statm") as statm:
        rss_mb = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    return {
        "tries": count,
        "process_rss_mb": round(rss_mb, 1),
        "supervisor_try": _timed(count, one_try),
        "bare_fork_exit_wait": _timed(count, bare_fork),
    }
