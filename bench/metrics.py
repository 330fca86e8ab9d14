"""Figures from try records: per-hop latency of a chain, throughput of a fan-out."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from datetime import datetime

from bench.harness import TryRecord


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of non-empty ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Median, p95, min and max of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "median": round(statistics.median(ms), 3),
        "p95": round(percentile(ms, 0.95), 3),
        "min": round(min(ms), 3),
        "max": round(max(ms), 3),
    }


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def chain_hops(runs: Sequence[Sequence[TryRecord]]) -> dict[str, object]:
    """Per hop (each task after the first, within one run): the next try's start minus the
    previous try's end, split at the next instance's ``queued_at`` (the start of the
    scheduler pass that queued it). Task ids sort in chain order."""
    hops: list[float] = []
    to_queued: list[float] = []
    queued_to_start: list[float] = []
    durations: list[float] = []
    for records in runs:
        ordered = sorted(records, key=lambda r: r.task_id)
        for previous, current in itertools.pairwise(ordered):
            hops.append(_seconds(previous.end, current.start))
            if current.queued_at is not None:
                to_queued.append(_seconds(previous.end, current.queued_at))
                queued_to_start.append(_seconds(current.queued_at, current.start))
        durations.extend(_seconds(r.start, r.end) for r in ordered)
    return {
        "tries": len(durations),
        "hops": len(hops),
        "hop_ms": summary_ms(hops),
        "end_to_queued_ms": summary_ms(to_queued),
        "queued_to_start_ms": summary_ms(queued_to_start),
        "try_duration_ms": summary_ms(durations),
    }


def fanout_throughput(records: Sequence[TryRecord], start_task: str) -> dict[str, object]:
    """Over the fanned-out tries (all but ``start_task``): how many per second from the
    first one's start to the last one's end, and the hand-off after ``start_task``."""
    fanned = [r for r in records if r.task_id != start_task]
    first_start = min(r.start for r in fanned)
    last_end = max(r.end for r in fanned)
    span = _seconds(first_start, last_end)
    result: dict[str, object] = {
        "tasks": len(fanned),
        "span_s": round(span, 4),
        "tasks_per_s": round(len(fanned) / span, 1),
        "try_duration_ms": summary_ms([_seconds(r.start, r.end) for r in fanned]),
    }
    start = [r for r in records if r.task_id == start_task]
    if start:
        result["start_to_first_fanned_ms"] = round(_seconds(start[0].end, first_start) * 1000, 3)
    return result
