"""CPU time spent by each part during the measured runs (Linux ``/proc``; absent elsewhere).

Wall-clock figures on a shared 2-core machine move with whatever else runs on it; CPU time
per try moves much less, and says which part would saturate first: the scheduler thread
(one core at most), the warm workers, or the tries' own processes (a worker waits for each
try it forks, so their time shows as the worker's children's time).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(path: Path) -> list[str] | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; it ends at the last ')'.
    return text[text.rindex(")") + 2 :].split()


def _seconds(fields: list[str], first: int, count: int) -> float:
    # Fields after the name start at field 3 (state): field n is at index n - 3.
    return sum(int(fields[first - 3 + i]) for i in range(count)) / _TICKS


@dataclass(frozen=True, slots=True)
class Snapshot:
    scheduler: float  # the scheduler thread
    process: float  # the whole benchmark process (scheduler, this thread polling the run)
    workers: float  # the warm workers themselves
    tries: float  # the try processes the workers forked and reaped
    database: float  # Postgres server processes serving the benchmark's connections


def snapshot(
    scheduler_tid: int | None, worker_pids: list[int], database_pids: list[int]
) -> Snapshot | None:
    own = _stat_fields(Path("/proc/self/stat"))
    thread = _stat_fields(Path(f"/proc/self/task/{scheduler_tid}/stat"))
    if own is None or thread is None:
        return None
    workers = tries = 0.0
    for pid in worker_pids:
        fields = _stat_fields(Path(f"/proc/{pid}/stat"))
        if fields is not None:
            workers += _seconds(fields, 14, 2)  # utime, stime
            tries += _seconds(fields, 16, 2)  # cutime, cstime
    database = processes_seconds(database_pids)
    return Snapshot(_seconds(thread, 14, 2), _seconds(own, 14, 2), workers, tries, database)


def per_try_ms(before: Snapshot | None, after: Snapshot | None, tries: int) -> dict[str, float]:
    """CPU milliseconds per try of each part between two snapshots."""
    if before is None or after is None or tries == 0:
        return {}

    def ms(a: float, b: float) -> float:
        return round((b - a) * 1000 / tries, 3)

    return {
        "scheduler_thread": ms(before.scheduler, after.scheduler),
        "benchmark_process": ms(before.process, after.process),
        "workers": ms(before.workers, after.workers),
        "try_processes": ms(before.tries, after.tries),
        "database_server": ms(before.database, after.database),
    }


def rss_mb(pid: int) -> float | None:
    """A process's resident memory in MB (what each fork has to copy the page tables of)."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    if fields is None:
        return None
    return round(int(fields[24 - 3]) * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)


def tree_seconds(pid: int, children: Callable[[int], list[int]]) -> float:
    """CPU seconds of a process, its live descendants (``children(pid)``: a process's child
    pids), and every child they reaped (a Celery worker's pool processes and the tries they
    forked)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        fields = _stat_fields(Path(f"/proc/{current}/stat"))
        if fields is None:
            continue
        total += _seconds(fields, 14, 4)  # utime, stime, cutime, cstime
        pending.extend(children(current))
    return total


def processes_seconds(pids: list[int]) -> float:
    """CPU seconds of these processes alone (Postgres backends, say)."""
    total = 0.0
    for pid in pids:
        fields = _stat_fields(Path(f"/proc/{pid}/stat"))
        if fields is not None:
            total += _seconds(fields, 14, 2)
    return total


def calibration_ms(rounds: int = 200_000) -> float:
    """CPU milliseconds this process takes for a fixed piece of pure Python (dict and
    integer work, as an interpreter serving requests does): how fast the machine runs right
    now. On a shared machine it moves by a factor of two within the hour; figures measured
    beside different calibrations do not compare."""
    import time

    began = time.process_time()
    table: dict[int, int] = {}
    for i in range(rounds):
        table[i & 1023] = table.get((i * 7) & 1023, 0) + i
    return round((time.process_time() - began) * 1000, 1)


def wakeup_round_trip_us(rounds: int = 5_000) -> float:
    """Microseconds for one process to wake another over a pipe and be woken back: what the
    production path pays between the worker, the API, Postgres and the scheduler at every
    hand-off. On a virtual machine it moves with the host's load independently of
    ``calibration_ms`` (seen here: the same Python speed beside a fan-out at half speed)."""
    import time

    ping_r, ping_w = os.pipe()
    pong_r, pong_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child answers, then exits
        try:
            for _ in range(rounds):
                os.read(ping_r, 1)
                os.write(pong_w, b".")
        finally:
            os._exit(0)
    began = time.perf_counter()
    for _ in range(rounds):
        os.write(ping_w, b".")
        os.read(pong_r, 1)
    elapsed = time.perf_counter() - began
    os.waitpid(pid, 0)
    for fd in (ping_r, ping_w, pong_r, pong_w):
        os.close(fd)
    return round(elapsed / rounds * 1e6, 2)


def log_file_create_us(folder: Path, rounds: int = 300) -> float:
    """CPU microseconds to make one try's log where a worker makes it: a folder for the task
    and the log file in it, in a new folder under ``folder`` (left there: removing it would
    slow the next minute's file creations, see ``bench.run._scratch``). On this machine's
    disk it has measured 20 to 2,000 us, by folder and by how recently files were removed
    nearby (ext4 skips recently deleted inodes when it looks for a free one), once per try
    of a fan-out: a slow minute alone can cost a fifth of the fan-out's CPU budget."""
    import tempfile
    import time

    run = Path(tempfile.mkdtemp(prefix="log-create-", dir=folder)) / "run_id=calibration"
    run.mkdir()
    began = time.process_time()
    for i in range(rounds):
        task = run / f"task_id=t{i}"
        task.mkdir()
        with open(task / "attempt=1.log", "ab"):
            pass
    return round((time.process_time() - began) / rounds * 1e6, 1)
