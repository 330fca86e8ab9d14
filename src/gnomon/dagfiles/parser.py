"""Parse DAG files safely: each file is imported in a forked child with a deadline.

User code never runs in the calling process: a file that raises, hangs, exits or crashes
becomes an error for that file, and the child (with anything it started in its process
group) is gone when ``parse_file``/``parse_files`` return.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import signal
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gnomon.dagfiles import child

#: How much of a dead child's output is read, and how much of it an error shows.
_STDERR_READ_BYTES = 65536
_STDERR_TAIL_CHARS = 4096
#: How often a child that closed its pipe but has not exited yet is polled.
_EXIT_POLL_S = 0.005
_FRAME_RE = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+)')
#: Frames of Gnomon's own code are left out of a crash dump shown to the user.
_GNOMON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(child.__file__))) + os.sep


@dataclass(frozen=True, slots=True)
class ParsedDag:
    """A DAG as the control plane sees it: serialized, versioned, and where it came from."""

    dag_id: str
    serialized: dict[str, Any]
    version_hash: str
    file: Path
    #: ``file`` relative to the DAGs folder, for display.
    relative_file: str


@dataclass(frozen=True, slots=True)
class FileParseResult:
    """The outcome of parsing one file: its DAGs, or the error that stopped the import."""

    file: Path
    relative_file: str
    dags: tuple[ParsedDag, ...]
    error: str | None
    duration_s: float
    #: The line of the file the error points at, where known.
    line: int | None = None


def relative_to(path: Path, folder: Path | None) -> str:
    """``path`` relative to ``folder`` when inside it, else the path itself."""
    if folder is not None:
        try:
            return str(path.relative_to(Path(os.path.abspath(folder))))
        except ValueError:
            pass
    return str(path)


def parse_file(path: Path, timeout: float, dags_folder: Path | None = None) -> FileParseResult:
    """Import ``path`` in a child process killed after ``timeout`` seconds."""
    return parse_files([path], timeout, dags_folder, concurrency=1)[0]


def parse_files(
    paths: Sequence[Path],
    timeout: float,
    dags_folder: Path | None = None,
    concurrency: int | None = None,
) -> list[FileParseResult]:
    """Parse ``paths`` (in order of the result), up to ``concurrency`` children at a time."""
    limit = max(1, concurrency or os.cpu_count() or 1)
    pending = deque(enumerate(Path(os.path.abspath(p)) for p in paths))
    results: dict[int, FileParseResult] = {}
    running: list[_Child] = []
    with selectors.DefaultSelector() as selector:
        try:
            while pending or running:
                while pending and len(running) < limit:
                    index, path = pending.popleft()
                    started = _Child.spawn(index, path, dags_folder, timeout)
                    selector.register(started.fd, selectors.EVENT_READ, started)
                    running.append(started)
                for key, _ in selector.select(_wait_time(running)):
                    proc: _Child = key.data
                    if proc.read():
                        selector.unregister(proc.fd)
                        os.close(proc.fd)
                for proc in list(running):
                    if proc.finished() or proc.overdue():
                        running.remove(proc)
                        if not proc.closed:
                            selector.unregister(proc.fd)
                            os.close(proc.fd)
                        results[proc.index] = proc.result(dags_folder, timeout)
        finally:
            for proc in running:  # interrupted (KeyboardInterrupt, ...): leave nothing behind
                proc.kill()
                proc.stderr.close()
                if not proc.closed:
                    os.close(proc.fd)
    return [results[i] for i in range(len(results))]


def _wait_time(running: list[_Child]) -> float:
    now = time.monotonic()
    wait = min(proc.deadline for proc in running) - now
    if any(proc.closed for proc in running):
        wait = min(wait, _EXIT_POLL_S)
    return max(wait, 0.0)


@dataclass(eq=False)
class _Child:
    """One forked child, seen from the parent."""

    index: int
    path: Path
    pid: int
    fd: int
    stderr: IO[bytes]
    started: float
    deadline: float
    chunks: list[bytes] = field(default_factory=list)
    closed: bool = False
    status: int | None = None
    timed_out: bool = False

    @classmethod
    def spawn(cls, index: int, path: Path, dags_folder: Path | None, timeout: float) -> _Child:
        read_fd, write_fd = os.pipe()
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in result() or kill
        started = time.monotonic()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            stderr.close()
            raise
        if pid == 0:
            try:
                os.close(read_fd)
                child.run(path, dags_folder, timeout, write_fd, stderr.fileno())
            finally:
                os._exit(child.INTERNAL_ERROR)  # never back into the parent's code
        # Closed at once, so that children forked later never hold this child's write end.
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        # Also set here: killpg must work even before the child ran its first line (if the
        # child did it first, or already exited, this fails harmlessly).
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        return cls(index, path, pid, read_fd, stderr, started, started + timeout)

    def read(self) -> bool:
        """Drain the pipe; True at end of file."""
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return False
            if not data:
                self.closed = True
                return True
            self.chunks.append(data)

    def finished(self) -> bool:
        """Whether the child closed its pipe and exited (it is then reaped)."""
        if not self.closed:
            return False
        if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            return False
        self._reap()
        return True

    def overdue(self) -> bool:
        if time.monotonic() < self.deadline:
            return False
        self.timed_out = not self.closed
        self.kill()
        return True

    def kill(self) -> None:
        self._reap()

    def _reap(self) -> None:
        # Kill the whole group while the child is still unreaped, so its pid (the group id)
        # cannot have been reused: this also stops what the DAG file started in the background.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        _, self.status = os.waitpid(self.pid, 0)

    def result(self, dags_folder: Path | None, timeout: float) -> FileParseResult:
        duration = time.monotonic() - self.started
        relative = relative_to(self.path, dags_folder)
        try:
            answer = _decode(b"".join(self.chunks)) if self.closed else None
            if answer is None:
                error, line = self._failure(timeout)
                return FileParseResult(self.path, relative, (), error, duration, line)
            dags = tuple(
                ParsedDag(d["dag_id"], d["serialized"], d["version_hash"], self.path, relative)
                for d in answer["dags"]
            )
            return FileParseResult(
                self.path, relative, dags, answer["error"], duration, answer["line"]
            )
        finally:
            self.stderr.close()

    def _failure(self, timeout: float) -> tuple[str, int | None]:
        output = self._stderr_tail()
        line = _line_in(output, self.path)
        if self.timed_out:
            message = (
                f"timed out after {timeout:g} s while importing {self.path} "
                "(GNOMON_DAG_FILE_TIMEOUT)"
            )
        else:
            code = os.waitstatus_to_exitcode(self.status or 0)
            if code < 0:
                how = f"was killed by signal {_signal_name(-code)}"
            elif code == 0:
                how = "exited without a result"
            else:
                how = f"exited with code {code}"
            message = f"the process importing {self.path} {how}"
        if output:
            message += "\nIts last output:\n" + output
        return message, line

    def _stderr_tail(self) -> str:
        self.stderr.seek(0, os.SEEK_END)
        size = self.stderr.tell()
        self.stderr.seek(max(0, size - _STDERR_READ_BYTES))
        text = _without_internal_frames(self.stderr.read().decode(errors="replace")).strip()
        return text[-_STDERR_TAIL_CHARS:]


def _decode(data: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(data)
    except ValueError:
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("dags"), list):
        return None
    return answer


def _line_in(output: str, path: Path) -> int | None:
    """The line of ``path`` in a faulthandler dump (most recent call first)."""
    for text in output.splitlines():
        match = _FRAME_RE.match(text)
        if match and match["file"] == str(path):
            return int(match["line"])
    return None


def _without_internal_frames(text: str) -> str:
    """A crash dump without Gnomon's frames and what is below them (the forked child
    inherited the parent's whole stack, which says nothing about the DAG file)."""
    kept: list[str] = []
    below_gnomon = False
    for line in text.splitlines():
        match = _FRAME_RE.match(line)
        if match is None:
            below_gnomon = False
        elif below_gnomon or match["file"].startswith((_GNOMON_DIR, "<frozen")):
            below_gnomon = below_gnomon or match["file"].startswith(_GNOMON_DIR)
            continue
        kept.append(line)
    return "\n".join(kept)


def _signal_name(number: int) -> str:
    try:
        return f"{signal.Signals(number).name} ({number})"
    except ValueError:
        return str(number)
