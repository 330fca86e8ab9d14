"""Runs tries one after another in one forked process, kept for the next try.

``supervisor.Supervisor`` forks a process per try: full isolation, at the price of a fork,
its copy-on-write faults and its exit for every try, which cost more CPU than a small task
itself. ``TaskProcess`` forks once and sends that process one try at a time (a JSON *job*
that its ``run_job`` turns into the try), up to ``tries_per_process`` tries; then, or when a
try is killed (its timeout, a refused heartbeat, a shutdown) or crashes the process, the
next try gets a new one. Celery users know the trade as ``worker_max_tasks_per_child``.

What a try keeps from the process-per-try model: its own process group (a kill takes what it
started), its timeout enforced with SIGKILL, its stdout and stderr (and its children's)
timestamped into its own log, death with the parent. What it gives up: a fresh interpreter
state, since module globals a task changes stay for the process's next tries, and output
that a task's leftover background process writes after the try ended lands in a later try's
log.

The try's output ends with ``END_OF_OUTPUT`` on the shared pipe, written after the process
flushed its streams, then the outcome follows as a length-prefixed frame on the result pipe:
the try is finished once both arrived, so every line it wrote is in its log first.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import select
import selectors
import signal
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from gnomon.runtime import supervisor
from gnomon.runtime.protocol import TryOutcome
from gnomon.runtime.supervisor import FinishedTry

log = logging.getLogger(__name__)

#: The line that ends a try's output on the process's stdout pipe.
END_OF_OUTPUT = b"\x1egnomon: end of try output\x1e\n"
_END_LINE = END_OF_OUTPUT.decode().rstrip("\n")
_LENGTH = struct.Struct("<I")

Job = Mapping[str, Any]
RunJob = Callable[[Job], TryOutcome]


def _frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


def _read_exactly(fd: int, size: int) -> bytes | None:
    """``size`` bytes from the blocking ``fd``; None at end of file."""
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _serve(
    run_job: RunJob, job_fd: int, output_fd: int, result_fd: int, parent: int | None
) -> None:
    """In the forked process: run each job read from ``job_fd`` until it is closed."""
    code = 0
    try:
        supervisor.wire_child(output_fd, parent)
        home = os.getcwd()
        while (header := _read_exactly(job_fd, _LENGTH.size)) is not None:
            data = _read_exactly(job_fd, _LENGTH.unpack(header)[0])
            if data is None:
                break
            job = json.loads(data)
            outcome = supervisor.run_target(functools.partial(run_job, job))
            supervisor.flush_std_streams()
            supervisor.write_all(1, END_OF_OUTPUT)
            supervisor.write_all(result_fd, _frame(json.dumps(outcome.to_json()).encode()))
            with contextlib.suppress(OSError):
                os.chdir(home)  # a task that changed directory does not move the next one
    except BaseException:
        code = 70
    finally:
        supervisor.flush_std_streams()
        os._exit(code)


@dataclass
class _Process:
    pid: int
    pidfd: int
    job_fd: int
    output_fd: int
    result_fd: int
    #: Tries sent to it so far.
    served: int = 0
    buffer: bytes = b""
    result: bytes = b""


@dataclass
class _Try:
    key: Any
    label: str
    started_at: datetime
    hard_deadline: float | None
    log: TextIO | None
    output_ended: bool = False
    killed_reason: str | None = None


class TaskProcess:
    """One reused try process and the try it runs, with ``Supervisor``'s calls: ``start``
    (with a job instead of a target), ``poll``, ``kill_all``, ``shutdown``, ``running``."""

    def __init__(
        self,
        run_job: RunJob,
        *,
        tries_per_process: int,
        kill_grace: float = supervisor.DEFAULT_KILL_GRACE,
        close_in_child: tuple[int, ...] = (),
        die_with_parent: bool = False,
    ) -> None:
        if tries_per_process < 1:
            raise ValueError(f"tries_per_process must be at least 1, not {tries_per_process}")
        self.run_job = run_job
        self.tries_per_process = tries_per_process
        self.kill_grace = kill_grace
        self.close_in_child = close_in_child
        self.die_with_parent = die_with_parent
        self._selector = selectors.DefaultSelector()
        self._process: _Process | None = None
        self._try: _Try | None = None

    @property
    def running(self) -> int:
        return 0 if self._try is None else 1

    @property
    def pid(self) -> int | None:
        """The kept process's pid, if there is one."""
        return None if self._process is None else self._process.pid

    def start(
        self,
        key: Any,
        job: Job,
        *,
        label: str,
        timeout: float | None = None,
        log_path: Path | None = None,
    ) -> None:
        """Send ``job`` to the kept process (forking one first if there is none);
        ``timeout`` is the try's execution_timeout."""
        if self._try is not None:
            raise RuntimeError(f"a try runs already: {self._try.label}")
        log_file: TextIO | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_file = open(log_path, "a", encoding="utf-8")  # noqa: SIM115
        if self._process is not None and _exited(self._process, 0):
            self._reap(self._process)  # killed from outside between tries
        fresh = self._process is None
        process = self._process or self._fork()
        now = time.monotonic()
        self._try = _Try(
            key=key,
            label=label,
            started_at=datetime.now(UTC),
            hard_deadline=now + timeout + self.kill_grace if timeout else None,
            log=log_file,
        )
        process.served += 1
        if fresh:
            self._write_line(f"try process started: pid {process.pid}")
        else:
            self._write_line(
                f"try process reused: pid {process.pid} (try {process.served} of at most "
                f"{self.tries_per_process} in it)"
            )
        # If it died just now (killed from outside), poll reaps it and reports this try
        # crashed; the next try gets a new process.
        with contextlib.suppress(BrokenPipeError):
            supervisor.write_all(process.job_fd, _frame(json.dumps(job).encode()))

    def _fork(self) -> _Process:
        job_r, job_w = os.pipe()
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        supervisor.flush_std_streams()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                for fd in (job_w, out_r, res_r, *self.close_in_child):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                _serve(self.run_job, job_r, out_w, res_w, parent if self.die_with_parent else None)
            finally:
                os._exit(70)
        for fd in (job_r, out_w, res_w):
            os.close(fd)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        process = _Process(pid, os.pidfd_open(pid), job_w, out_r, res_r)
        for fd in (out_r, res_r):
            os.set_blocking(fd, False)
            self._selector.register(fd, selectors.EVENT_READ)
        self._selector.register(process.pidfd, selectors.EVENT_READ)
        self._process = process
        return process

    # -- watching ----------------------------------------------------------------------------
    def poll(self, timeout: float | None) -> list[FinishedTry]:
        """Wait up to ``timeout`` seconds for output or the try's end; the try if it ended."""
        process, current = self._process, self._try
        if process is None or current is None:
            if timeout:
                time.sleep(timeout)
            return []
        if current.hard_deadline is not None:
            wait = max(0.0, current.hard_deadline - time.monotonic())
            timeout = wait if timeout is None else min(timeout, wait)
        exited = False
        for selkey, _ in self._selector.select(timeout):
            if selkey.fd == process.pidfd:
                exited = True
            else:
                self._read(process, selkey.fd)
        if exited:
            return [self._lost(process)]
        self._enforce_deadline(process, current)
        outcome = self._outcome(process)
        if outcome is None or not current.output_ended:
            return []
        return [self._finish(process, current, outcome)]

    def _read(self, process: _Process, fd: int) -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not chunk:  # only when the process is gone: the pidfd tells
                with contextlib.suppress(KeyError):
                    self._selector.unregister(fd)
                return
            if fd == process.result_fd:
                process.result += chunk
                continue
            lines, process.buffer = supervisor.split_lines(process.buffer + chunk)
            for line in lines:
                if line == _END_LINE and self._try is not None:
                    self._try.output_ended = True
                else:
                    self._write_line(line)
            if lines and self._try is not None and self._try.log is not None:
                self._try.log.flush()  # once per chunk read: readers follow the log live

    def _outcome(self, process: _Process) -> TryOutcome | None:
        """The outcome frame, once it arrived whole."""
        if len(process.result) < _LENGTH.size:
            return None
        end = _LENGTH.size + _LENGTH.unpack_from(process.result)[0]
        if len(process.result) < end:
            return None
        payload, process.result = process.result[_LENGTH.size : end], process.result[end:]
        return supervisor.outcome_of(None, self.kill_grace, payload, 0)

    def _write_line(self, line: str) -> None:
        current = self._try
        if current is None:  # a background process a try left behind
            log.debug("output between tries: %s", line)
        elif current.log is not None:
            current.log.write(f"[{supervisor.timestamp()}] {line}\n")

    def _write_rest(self, process: _Process) -> None:
        """The try's last line, if it ended without a newline."""
        if process.buffer:
            self._write_line(process.buffer.decode(errors="replace"))
            process.buffer = b""

    def _enforce_deadline(self, process: _Process, current: _Try) -> None:
        if (
            current.hard_deadline is not None
            and time.monotonic() >= current.hard_deadline
            and not current.killed_reason
        ):
            current.killed_reason = "timeout"
            self._write_line("execution_timeout exceeded and the try did not stop: killing it")
            self._kill_group(process.pid, signal.SIGKILL)

    def _finish(self, process: _Process, current: _Try, outcome: TryOutcome) -> FinishedTry:
        self._write_rest(process)
        finished = self._close_try(current, process.pid, outcome)
        if process.served >= self.tries_per_process:
            self.close()
        return finished

    def _close_try(self, current: _Try, pid: int, outcome: TryOutcome) -> FinishedTry:
        self._write_line(f"try ended: {outcome.state.value} ({outcome.exit_reason})")
        if current.log is not None:
            current.log.close()
        self._try = None
        return FinishedTry(current.key, pid, outcome, current.started_at, datetime.now(UTC))

    def _lost(self, process: _Process) -> FinishedTry:
        """The process died with the try in it: killed, timed out, or crashed."""
        current = self._try
        assert current is not None
        status = self._reap(process)
        reported = self._outcome(process)
        outcome = (
            reported
            if reported is not None and current.killed_reason is None
            else supervisor.outcome_of(current.killed_reason, self.kill_grace, b"", status)
        )
        return self._close_try(current, process.pid, outcome)

    def _reap(self, process: _Process) -> int:
        """Wait for the process (already ended or ending), drain and close its pipes, and
        kill what it left in its process group."""
        _, status = os.waitpid(process.pid, 0)
        for fd in (process.output_fd, process.result_fd):
            self._read(process, fd)
        self._write_rest(process)
        self._kill_group(process.pid, signal.SIGKILL)
        for fd in (process.output_fd, process.result_fd, process.pidfd):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fd)
            os.close(fd)
        with contextlib.suppress(OSError):
            os.close(process.job_fd)
        self._process = None
        return status

    @staticmethod
    def _kill_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    # -- stopping ----------------------------------------------------------------------------
    def kill_all(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Kill the running try with its process (the next try gets a new one)."""
        if self._process is not None and self._try is not None:
            self._try.killed_reason = self._try.killed_reason or "killed"
            self._kill_group(self._process.pid, sig)

    def shutdown(self) -> list[FinishedTry]:
        """Kill the running try, if any, reap it, and return how it ended."""
        process = self._process
        if process is None:
            return []
        if self._try is None:
            self.close()
            return []
        self.kill_all()
        return [self._lost(process)]

    def close(self, grace: float = 5.0) -> None:
        """End the kept process between tries: it exits when its job pipe closes (SIGKILL
        after ``grace`` seconds)."""
        process = self._process
        if process is None or self._try is not None:
            return
        with contextlib.suppress(OSError):
            os.close(process.job_fd)
        process.job_fd = -1
        if not _exited(process, grace):
            self._kill_group(process.pid, signal.SIGKILL)
        self._reap(process)


def _exited(process: _Process, timeout: float) -> bool:
    """Whether ``process`` ended, waiting up to ``timeout`` seconds (it is not reaped). One
    ``select`` on its pidfd: this runs at every try's start."""
    readable, _, _ = select.select([process.pidfd], [], [], timeout)
    return bool(readable)
