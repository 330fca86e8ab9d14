"""Runs tries in forked processes and watches them: output, timeouts, exits.

Each try runs in its own process, forked from this warm one (Gnomon and the DAG are already
imported, so no interpreter starts per task), in its own process group so that a timeout kills
the task and everything it started. Its stdout and stderr, and those of its children, go
through a pipe to this process, which timestamps each line into the try's log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from gnomon.runtime import lifeline
from gnomon.runtime.protocol import TryOutcome
from gnomon.semantics.states import TaskState

LineSink = Callable[[str, str], None]

#: How long past its execution_timeout a try may take to stop by itself before SIGKILL.
DEFAULT_KILL_GRACE = 5.0


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class TryProcess:
    key: Any
    label: str
    pid: int
    output_fd: int
    result_fd: int
    pidfd: int
    started_at: datetime
    hard_deadline: float | None
    log: TextIO | None
    echo: TextIO | None
    buffer: bytes = b""
    result: bytes = b""
    killed_reason: str | None = None
    exit_status: int | None = None
    open_fds: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class FinishedTry:
    key: Any
    pid: int
    outcome: TryOutcome
    started_at: datetime
    ended_at: datetime


def wire_child(output_fd: int, parent: int | None) -> None:
    """In a forked try process: its own process group (a kill takes everything it started),
    death with ``parent`` if given, default signals, stdin from /dev/null, and stdout,
    stderr and the root logger into ``output_fd`` (closed here)."""
    os.setpgid(0, 0)
    if parent is not None:
        lifeline.die_with_parent(parent, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1, closefd=False, errors="replace")  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="replace")  # noqa: SIM115
    root = logging.getLogger()
    root.handlers = [logging.StreamHandler(sys.stderr)]


def run_target(target: Callable[[], TryOutcome]) -> TryOutcome:
    """``target()``, or a crashed outcome with its traceback on stderr if it raised."""
    try:
        return target()
    except BaseException as exc:
        print(traceback.format_exc(), file=sys.stderr)
        return TryOutcome.crashed(f"runtime error: {type(exc).__name__}: {exc}")


def split_lines(buffer: bytes) -> tuple[list[str], bytes]:
    """The whole lines in a try's output ``buffer``, decoded, and the unfinished rest."""
    *lines, rest = buffer.split(b"\n")
    return [line.decode(errors="replace").rstrip("\r") for line in lines], rest


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _child_main(
    target: Callable[[], TryOutcome], output_fd: int, result_fd: int, parent: int | None
) -> None:
    """In the forked child: wire up fds, run the target, report, and always _exit."""
    code = 0
    try:
        wire_child(output_fd, parent)
        outcome = run_target(target)
        write_all(result_fd, json.dumps(outcome.to_json()).encode())
    except BaseException:
        code = 70
    finally:
        flush_std_streams()
        os._exit(code)


class Supervisor:
    """Starts tries as forked children and reports each one's end."""

    def __init__(
        self,
        *,
        kill_grace: float = DEFAULT_KILL_GRACE,
        close_in_child: tuple[int, ...] = (),
        die_with_parent: bool = False,
    ) -> None:
        self.kill_grace = kill_grace
        #: Tries get SIGKILL when this process dies (a Celery pool process killed with -9
        #: must not leave its try running unsupervised, to finish unreported).
        self.die_with_parent = die_with_parent
        #: Descriptors of this process a try must not hold (a worker's channel to its
        #: executor: a try keeping it open would hide the worker's death).
        self.close_in_child = close_in_child
        self._selector = selectors.DefaultSelector()
        self._running: dict[Any, TryProcess] = {}

    @property
    def running(self) -> int:
        return len(self._running)

    def running_keys(self) -> list[Any]:
        return list(self._running)

    def start(
        self,
        key: Any,
        target: Callable[[], TryOutcome],
        *,
        label: str,
        timeout: float | None = None,
        log_path: Path | None = None,
        echo: TextIO | None = None,
    ) -> TryProcess:
        """Fork a child that runs ``target()``; ``timeout`` is the try's execution_timeout."""
        log: TextIO | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        flush_std_streams()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                os.close(out_r)
                os.close(res_r)
                for fd in self.close_in_child:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                _child_main(target, out_w, res_w, parent if self.die_with_parent else None)
            finally:
                os._exit(70)  # never return into the parent's code (pytest, the CLI...)
        os.close(out_w)
        os.close(res_w)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        pidfd = os.pidfd_open(pid)
        now = time.monotonic()
        proc = TryProcess(
            key=key,
            label=label,
            pid=pid,
            output_fd=out_r,
            result_fd=res_r,
            pidfd=pidfd,
            started_at=datetime.now(UTC),
            hard_deadline=now + timeout + self.kill_grace if timeout else None,
            log=log,
            echo=echo,
            open_fds={out_r, res_r},
        )
        for fd in (out_r, res_r):
            os.set_blocking(fd, False)
            self._selector.register(fd, selectors.EVENT_READ, proc)
        self._selector.register(pidfd, selectors.EVENT_READ, proc)
        self._running[key] = proc
        self._write_line(proc, f"try process started: pid {pid}")
        return proc

    def _write_line(self, proc: TryProcess, line: str) -> None:
        if proc.log is not None:
            proc.log.write(f"[{timestamp()}] {line}\n")
        if proc.echo is not None:
            proc.echo.write(f"{proc.label} | {line}\n")

    def _read(self, proc: TryProcess, fd: int) -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                self._selector.unregister(fd)
                os.close(fd)
                proc.open_fds.discard(fd)
                if fd == proc.output_fd and proc.buffer:
                    self._write_line(proc, proc.buffer.decode(errors="replace"))
                    proc.buffer = b""
                return
            if fd == proc.result_fd:
                proc.result += chunk
                continue
            lines, proc.buffer = split_lines(proc.buffer + chunk)
            for line in lines:
                self._write_line(proc, line)
            if lines and proc.log is not None:
                proc.log.flush()  # once per chunk read: readers follow the log live

    def poll(self, timeout: float | None) -> list[FinishedTry]:
        """Wait up to ``timeout`` seconds for output or exits; return the tries that ended."""
        finished: list[FinishedTry] = []
        if not self._running:
            if timeout:
                time.sleep(timeout)
            return finished
        deadline = self._nearest_deadline()
        if deadline is not None:
            wait = max(0.0, deadline - time.monotonic())
            timeout = wait if timeout is None else min(timeout, wait)
        exited: list[TryProcess] = []
        for selkey, _ in self._selector.select(timeout):
            proc: TryProcess = selkey.data
            if selkey.fd == proc.pidfd:
                exited.append(proc)
            else:
                self._read(proc, selkey.fd)
        self._enforce_deadlines()
        for proc in exited:
            finished.append(self._reap(proc))
        return finished

    def _nearest_deadline(self) -> float | None:
        deadlines = [p.hard_deadline for p in self._running.values() if p.hard_deadline]
        return min(deadlines) if deadlines else None

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for proc in self._running.values():
            if (
                proc.hard_deadline is not None
                and now >= proc.hard_deadline
                and not proc.killed_reason
            ):
                proc.killed_reason = "timeout"
                self._write_line(
                    proc, "execution_timeout exceeded and the try did not stop: killing it"
                )
                self._kill_group(proc.pid, signal.SIGKILL)

    @staticmethod
    def _kill_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def _reap(self, proc: TryProcess) -> FinishedTry:
        _, status = os.waitpid(proc.pid, 0)
        self._selector.unregister(proc.pidfd)
        os.close(proc.pidfd)
        for fd in list(proc.open_fds):
            self._read(proc, fd)  # drain what the child wrote before it ended
            if fd in proc.open_fds:  # a grandchild still holds the pipe open: stop listening
                self._selector.unregister(fd)
                os.close(fd)
                proc.open_fds.discard(fd)
        outcome = self._outcome(proc, status)
        if outcome.exit_reason == "timeout" or proc.killed_reason:
            # The task's own children (a bash command's sleep...) die with the try.
            self._kill_group(proc.pid, signal.SIGKILL)
        if proc.buffer:
            self._write_line(proc, proc.buffer.decode(errors="replace"))
        self._write_line(proc, f"try ended: {outcome.state.value} ({outcome.exit_reason})")
        if proc.log is not None:
            proc.log.close()
        del self._running[proc.key]
        return FinishedTry(proc.key, proc.pid, outcome, proc.started_at, datetime.now(UTC))

    def _outcome(self, proc: TryProcess, status: int) -> TryOutcome:
        return outcome_of(proc.killed_reason, self.kill_grace, proc.result, status)

    def kill_all(self, sig: signal.Signals = signal.SIGKILL) -> None:
        for proc in list(self._running.values()):
            proc.killed_reason = proc.killed_reason or "killed"
            self._kill_group(proc.pid, sig)

    def shutdown(self) -> list[FinishedTry]:
        """Kill every running try with everything it started, reap it, and return how each
        ended. For a caller that gives up early (Ctrl-C, an error of its own)."""
        self.kill_all()
        finished = []
        for proc in list(self._running.values()):
            proc.echo = None  # the echo stream may be what failed
            finished.append(self._reap(proc))
        return finished


def outcome_of(
    killed_reason: str | None, kill_grace: float, result: bytes, status: int
) -> TryOutcome:
    """How a try ended, from what its supervisor knows: killed for its timeout, else the
    result its process reported, else how that process exited (``waitpid`` ``status``)."""
    if killed_reason == "timeout":
        return TryOutcome(
            TaskState.FAILED,
            "timeout",
            error=f"execution_timeout exceeded and the try did not stop within "
            f"{kill_grace:g}s: killed",
        )
    if result:
        try:
            return TryOutcome.from_json(json.loads(result))
        except (ValueError, KeyError) as exc:
            return TryOutcome.crashed(f"unreadable result from the try process: {exc}")
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return TryOutcome.crashed(f"try process killed by signal {name}")
    return TryOutcome.crashed(
        f"try process exited with code {os.waitstatus_to_exitcode(status)} without a result"
    )
