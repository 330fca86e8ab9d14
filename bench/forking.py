"""The cost of one try's process on its own: ``runtime.supervisor`` forking a no-op try from
this (warm) process, as a local worker does, without the scheduler or the database."""

from __future__ import annotations

import time
from pathlib import Path

from bench.metrics import summary_ms
from gnomon.runtime import supervisor
from gnomon.runtime.protocol import TryOutcome
from gnomon.semantics.states import TaskState


def _noop() -> TryOutcome:
    return TryOutcome(TaskState.SUCCESS, "success")


def measure(count: int, logs: Path) -> dict[str, object]:
    """Start ``count`` no-op tries one after the other, each with a log file."""
    runner = supervisor.Supervisor(kill_grace=1.0)
    start_calls: list[float] = []
    lifetimes: list[float] = []
    rounds: list[float] = []
    for i in range(count):
        began = time.perf_counter()
        runner.start(i, _noop, label=f"noop#{i}", log_path=logs / f"{i}.log")
        start_calls.append(time.perf_counter() - began)
        finished: list[supervisor.FinishedTry] = []
        while not finished:
            finished = runner.poll(0.2)
        rounds.append(time.perf_counter() - began)
        lifetimes.extend((f.ended_at - f.started_at).total_seconds() for f in finished)
    return {
        "tries": count,
        "supervisor_start_ms": summary_ms(start_calls),
        "started_to_reaped_ms": summary_ms(lifetimes),
        "start_to_reaped_ms": summary_ms(rounds),
    }
