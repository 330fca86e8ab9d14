"""Running one try on a remote worker, through the execution API only (no database).

A warm process (a Celery prefork child, say) keeps one ``TryRunner``. For each broker message
it claims the try (``start``: exactly one claim wins), loads the run's DAG version (its bundle,
or its stored source; cached per version in this process), forks the try from itself through
``runtime.supervisor``, heartbeats while it runs (renewing the run token; a refused heartbeat
means the try was given up elsewhere, so it is killed), and reports its end. The try's own
process reads XComs through the API as well.
"""

from __future__ import annotations

import logging
import mmap
import os
import signal
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

# Imported here so that every forked try finds them loaded already.
import gnomon.operators  # noqa: F401
from gnomon.dagfiles import bundles
from gnomon.exceptions import XComError
from gnomon.executors import dag_versions
from gnomon.executors.base import SHUTDOWN_EXIT_REASON, Workload
from gnomon.executors.dag_versions import LoadedVersion, try_label
from gnomon.executors.execution_client import (
    Claim,
    ExecutionApiError,
    ExecutionClient,
    Refused,
    StartAnswer,
    Unreachable,
)
from gnomon.runtime import supervisor
from gnomon.runtime.protocol import TryOutcome
from gnomon.semantics.states import TaskState

log = logging.getLogger(__name__)

#: The longest the runner waits before looking at a stop request again (seconds).
_STOP_CHECK = 0.25


class TokenBox:
    """The try's current run token, shared with the try's forked process: the runner renews
    it with each heartbeat and the try reads the newest for each XCom pull (a long task's
    first token may have expired by then). An anonymous shared mapping outlives the fork."""

    _SIZE = 1024
    _LENGTH = struct.Struct("<I")

    def __init__(self, token: str) -> None:
        self._map = mmap.mmap(-1, self._SIZE)
        self.set(token)

    def set(self, token: str) -> None:
        data = token.encode()
        if len(data) > self._SIZE - self._LENGTH.size:
            raise ValueError(f"execution token of {len(data)} bytes is too long")
        # The token first, then its length: a reader never sees a length beyond its data.
        self._map[self._LENGTH.size : self._LENGTH.size + len(data)] = data
        self._map[: self._LENGTH.size] = self._LENGTH.pack(len(data))

    def get(self) -> str:
        (length,) = self._LENGTH.unpack(self._map[: self._LENGTH.size])
        return self._map[self._LENGTH.size : self._LENGTH.size + length].decode(errors="replace")

    def close(self) -> None:
        self._map.close()


class RemoteXComSource:
    """``runtime.protocol.XComSource`` over the execution API, for a try's process (its
    client makes its own connections after the fork)."""

    def __init__(self, client: ExecutionClient, try_id: int, token: TokenBox) -> None:
        self._client = client
        self._try_id = try_id
        self._token = token

    def pull(self, task_id: str, key: str) -> Mapping[int, Any]:
        try:
            try:
                return self._client.xcoms(self._try_id, self._token.get(), task_id, key)
            except Refused as exc:
                if exc.status != 401:
                    raise
                # The token was renewed while we read it: once more with the newest.
                return self._client.xcoms(self._try_id, self._token.get(), task_id, key)
        except ExecutionApiError as exc:
            raise XComError(
                f"cannot pull XCom {key!r} of task {task_id!r} through the execution API: {exc}"
            ) from None


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    #: The execution API, e.g. ``http://api-host:8080/execution/v1``.
    api_url: str
    #: Where tries' logs are written (``<logs_folder>/<workload.log_relpath>``).
    logs_folder: Path
    #: Where DAG code is materialised (``$GNOMON_HOME/cache``).
    cache_folder: Path
    #: This worker's name and host, recorded with each try.
    worker: str
    hostname: str
    kill_grace: float = supervisor.DEFAULT_KILL_GRACE
    #: The largest XCom a try may push, unless the API says otherwise at start.
    xcom_max_bytes: int = 1_048_576
    #: Seconds one HTTP request may take.
    request_timeout: float = 30.0
    #: The log's relative path -> where it can be read while the try runs (a log server).
    live_location: Callable[[str], str] | None = None
    #: The log's relative path -> where it is kept once uploaded after the try ended.
    upload: Callable[[str], str] | None = None
    #: Descriptors of this process a try must not hold (a pool's channel to its parent...).
    close_in_child: tuple[int, ...] = ()
    #: Seconds a DAG bundle stays in the cache unused (``bundles.BundleCache.prune``).
    bundle_retention: float = 7 * 86400.0


class RunStatus(StrEnum):
    #: The try ran and its end was reported (or it had been ended elsewhere): ack.
    ENDED = "ended"
    #: The start was refused (started by another worker, finished, taken back, gone): ack
    #: and drop the message; nothing ran.
    REFUSED = "refused"
    #: Not started (the API unreachable, or this worker stopping): nothing ran; requeue.
    DEFERRED = "deferred"
    #: The try ran but its end could not be reported: ack (the scheduler fails it as a
    #: zombie once its heartbeats stop, and retries it).
    UNREPORTED = "unreported"


@dataclass(frozen=True, slots=True)
class RunResult:
    try_id: int
    status: RunStatus
    detail: str = ""
    #: How the try ended, if it ran.
    outcome: TryOutcome | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "try_id": self.try_id,
            "status": self.status.value,
            "detail": self.detail,
            "outcome": None if self.outcome is None else self.outcome.to_json(),
        }


class TryRunner:
    """Runs tries one at a time in this warm process; ``run`` returns when the try ended."""

    def __init__(self, config: RunnerConfig, client: ExecutionClient | None = None) -> None:
        self.config = config
        self.client = client or ExecutionClient(config.api_url, config.request_timeout)
        # A runner's process killed with -9 (its worker lost) takes its try with it, so no
        # try finishes unsupervised and unreported, to run again as a retry.
        self.supervisor = supervisor.Supervisor(
            kill_grace=config.kill_grace, close_in_child=config.close_in_child, die_with_parent=True
        )
        self._dags: dict[int, LoadedVersion] = {}
        self._bundles = bundles.BundleCache(
            config.cache_folder / "bundles", keep_for=config.bundle_retention
        )
        self._stop_at: float | None = None

    def request_stop(self, grace: float) -> None:
        """Stop: a running try gets ``grace`` seconds to end, then is killed and reported
        with exit reason ``shutdown`` (retried without using a retry); no new try starts.
        Only sets a deadline, so it is safe to call from a signal handler."""
        deadline = time.monotonic() + grace
        if self._stop_at is None or deadline < self._stop_at:
            self._stop_at = deadline

    def run(self, workload_json: Mapping[str, Any], start_token: str) -> RunResult:
        workload = Workload.from_json(workload_json)
        try_id = workload.try_id
        if self._stop_at is not None:
            return RunResult(try_id, RunStatus.DEFERRED, "the worker is stopping")
        relpath = _log_relpath(workload)
        claim = Claim(
            hostname=self.config.hostname,
            pid=os.getpid(),
            worker=self.config.worker,
            started_at=datetime.now(UTC),
            log_location=self.config.live_location(relpath) if self.config.live_location else None,
        )
        try:
            answer = self.client.start(try_id, start_token, claim)
        except Refused as exc:
            return RunResult(try_id, RunStatus.REFUSED, str(exc))
        except Unreachable as exc:
            return RunResult(try_id, RunStatus.DEFERRED, str(exc))
        token = TokenBox(answer.token)
        try:
            loaded = self._dag(try_id, answer, token.get(), Path(workload.dags_folder))
            finished, killed = self._supervise(try_id, answer, loaded, token, relpath)
            return self._report(try_id, finished, killed, token.get(), relpath)
        finally:
            if self.supervisor.running:  # an error of our own: the try must not outlive it
                self.supervisor.shutdown()
            token.close()

    # -- the DAG -----------------------------------------------------------------------------
    def _dag(
        self, try_id: int, answer: StartAnswer, token: str, dags_folder: Path
    ) -> LoadedVersion:
        """The try's DAG, loaded once per version in this process. A failure to fetch the
        code is not kept (the next try may fetch it); a failure to import it is."""
        cached = self._dags.get(answer.dag_version_id)
        if cached is not None:
            return cached
        try:
            path, folder = self._code(try_id, answer, token, dags_folder)
        except (ExecutionApiError, OSError, ValueError) as exc:
            return LoadedVersion(
                None, f"cannot fetch the code of DAG version {answer.dag_version_id}: {exc}"
            )
        loaded = dag_versions.load(path, folder, answer.dag_id, answer.version_hash)
        self._dags[answer.dag_version_id] = loaded
        return loaded

    def _code(
        self, try_id: int, answer: StartAnswer, token: str, dags_folder: Path
    ) -> tuple[Path, Path]:
        """The DAG file on this machine, and the folder to import its helper modules from:
        the version's bundle, materialised in the cache; else (a version made before bundles)
        its stored source, with helpers from this machine's DAGs folder if it has one."""
        relative = Path(*bundles.relative_path(answer.fileloc).parts)
        if answer.bundle is not None:
            folder = self._bundles.ensure(
                answer.bundle.hash,
                answer.bundle.files,
                lambda sha256: self.client.file(try_id, token, sha256),
            )
            return folder / relative, folder
        folder = self.config.cache_folder / "sources" / str(answer.dag_version_id)
        path = folder / relative
        if not path.exists():
            bundles.write_atomically(path, self.client.source(try_id, token).encode())
        return path, dags_folder if dags_folder.is_dir() else folder

    # -- running -----------------------------------------------------------------------------
    def _supervise(
        self,
        try_id: int,
        answer: StartAnswer,
        loaded: LoadedVersion,
        token: TokenBox,
        relpath: str,
    ) -> tuple[supervisor.FinishedTry, TryOutcome | None]:
        """Fork the try and watch it to its end; how it ended, and the outcome to report
        instead of its own if it was killed (the worker stopping, the try given up)."""
        request = answer.request
        source = RemoteXComSource(self.client, try_id, token)
        max_bytes = answer.xcom_max_bytes or self.config.xcom_max_bytes
        self.supervisor.start(
            try_id,
            loaded.try_target(request, source, max_bytes),
            label=try_label(request),
            timeout=answer.timeout,
            log_path=self.config.logs_folder / relpath,
        )
        interval = answer.heartbeat_interval
        next_beat = time.monotonic() + interval
        killed: TryOutcome | None = None
        while True:
            now = time.monotonic()
            if killed is None and self._stop_at is not None and now >= self._stop_at:
                killed = TryOutcome(
                    TaskState.FAILED, SHUTDOWN_EXIT_REASON, error="stopped: the worker shut down"
                )
                self.supervisor.kill_all(signal.SIGKILL)
            for finished in self.supervisor.poll(max(0.0, min(next_beat - now, _STOP_CHECK))):
                return finished, killed
            if killed is None and time.monotonic() >= next_beat:
                next_beat = time.monotonic() + interval
                killed = self._heartbeat(try_id, token, interval)

    def _heartbeat(self, try_id: int, token: TokenBox, interval: float) -> TryOutcome | None:
        """Beat once (retrying until the next beat is due); the outcome to report if the
        try must be killed because the API refused it."""
        try:
            token.set(self.client.heartbeat(try_id, token.get(), retry_for=interval))
        except Refused as exc:
            log.warning("try %s: heartbeat refused, killing it: %s", try_id, exc)
            self.supervisor.kill_all(signal.SIGKILL)
            return TryOutcome.crashed(f"killed: the execution API refused its heartbeat: {exc}")
        except Unreachable as exc:
            # It runs on; past the heartbeat timeout the scheduler gives it up, and the next
            # heartbeat that gets through is refused.
            log.warning("try %s: heartbeat not delivered: %s", try_id, exc)
        return None

    def _report(
        self,
        try_id: int,
        finished: supervisor.FinishedTry,
        killed: TryOutcome | None,
        token: str,
        relpath: str,
    ) -> RunResult:
        outcome = killed or finished.outcome
        location = None
        if self.config.upload is not None:
            try:
                location = self.config.upload(relpath)
            except Exception:
                log.exception("try %s: could not upload its log %s", try_id, relpath)
        try:
            state = self.client.end(
                try_id,
                token,
                outcome,
                started_at=finished.started_at,
                ended_at=finished.ended_at,
                pid=finished.pid,
                log_location=location,
            )
        except Refused as exc:
            if exc.status == 409:
                return RunResult(try_id, RunStatus.ENDED, f"had ended already: {exc}", outcome)
            return RunResult(try_id, RunStatus.UNREPORTED, str(exc), outcome)
        except Unreachable as exc:
            return RunResult(try_id, RunStatus.UNREPORTED, str(exc), outcome)
        return RunResult(try_id, RunStatus.ENDED, state.value, outcome)


def _log_relpath(workload: Workload) -> str:
    return workload.log_relpath or os.path.basename(workload.log_path)
