"""Running one try on a remote worker, through the execution API only (no database).

A warm process (a Celery prefork child, say) keeps one ``TryRunner``. For each try it claims
it (``start``: exactly one claim wins), loads the run's DAG version (its bundle, or its
stored source; cached per version in this process), forks the try from itself through
``runtime.supervisor`` or sends it to the try process it keeps (``runtime.task_process``),
heartbeats while it runs (renewing the run token; a refused heartbeat means the try was
given up elsewhere, so it is killed), and reports its end. The try's own process reads
XComs through the API as well (``remote_try``); the loaded versions are ``remote_versions``;
``in_turn`` runs a message's tries.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

# Imported here so that every forked try finds them loaded already.
import gnomon.operators  # noqa: F401
from gnomon.executors.base import SHUTDOWN_EXIT_REASON, Workload
from gnomon.executors.dag_versions import LoadedVersion, try_label
from gnomon.executors.execution_client import (
    Claim,
    ExecutionClient,
    NextStart,
    Refused,
    StartAnswer,
    Unreachable,
)
from gnomon.executors.remote_try import RemoteXComSource, TokenBox
from gnomon.executors.remote_versions import RemoteVersions
from gnomon.runtime import supervisor
from gnomon.runtime.protocol import TryOutcome, TryRequest
from gnomon.runtime.task_process import TaskProcess
from gnomon.semantics.states import TaskState

log = logging.getLogger(__name__)

#: The longest the runner waits before looking at a stop request again (seconds).
_STOP_CHECK = 0.25


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
    #: Tries run one after another in one forked process before it is replaced
    #: (``runtime.task_process``); 1: a fresh process for every try.
    tries_per_process: int = 1
    #: Seconds a try runs before ``run``'s ``on_long`` is called (a message's other tries
    #: are handed back to the queue then).
    hand_back_after: float = 1.0


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
class Claimed:
    """A try claimed with the end report of the one before (``TryRunner.run``'s ``then``)."""

    try_id: int
    claim: Claim
    #: What its start answered; None if the API did not start it (start it with ``claim``).
    answer: StartAnswer | Refused | None


@dataclass(frozen=True, slots=True)
class RunResult:
    try_id: int
    status: RunStatus
    detail: str = ""
    #: How the try ended, if it ran.
    outcome: TryOutcome | None = None
    #: The next try, claimed with this one's end (``TryRunner.run``'s ``then``).
    next: Claimed | None = None

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
        self.supervisor: supervisor.Supervisor | TaskProcess
        if config.tries_per_process > 1:
            self.supervisor = TaskProcess(
                self._run_job,
                tries_per_process=config.tries_per_process,
                kill_grace=config.kill_grace,
                close_in_child=config.close_in_child,
                die_with_parent=True,
            )
        else:
            self.supervisor = supervisor.Supervisor(
                kill_grace=config.kill_grace,
                close_in_child=config.close_in_child,
                die_with_parent=True,
            )
        # The running try's token, shared with the kept try process (made before it forks).
        self._token = TokenBox("")
        self._versions = RemoteVersions(self.client, config.cache_folder, config.bundle_retention)
        self._stop_at: float | None = None

    def request_stop(self, grace: float) -> None:
        """Stop: a running try gets ``grace`` seconds to end, then is killed and reported
        with exit reason ``shutdown`` (retried without using a retry); no new try starts.
        Only sets a deadline, so it is safe to call from a signal handler."""
        deadline = time.monotonic() + grace
        if self._stop_at is None or deadline < self._stop_at:
            self._stop_at = deadline

    def run(
        self,
        workload_json: Mapping[str, Any],
        start_token: str,
        *,
        on_long: Callable[[], object] | None = None,
        then: Callable[[], tuple[Mapping[str, Any], str] | None] | None = None,
        claimed: Claimed | None = None,
    ) -> RunResult:
        """Claim, run and report the try; ``on_long`` is called once if it runs for longer
        than ``hand_back_after`` seconds.

        ``then`` (called once the try ended) names the try to run next, by workload and
        start token, if any: it is claimed with this try's end report, one request instead
        of two, and the result's ``next`` is that claim, to pass as ``claimed`` when
        running it."""
        workload = Workload.from_json(workload_json)
        try_id = workload.try_id
        relpath = _log_relpath(workload)
        ahead = claimed if claimed is not None and claimed.try_id == try_id else None
        started = None if ahead is None else ahead.answer
        if isinstance(started, Refused):
            return RunResult(try_id, RunStatus.REFUSED, str(started))
        if started is None:
            # Claimed here but not yet started: nothing runs once the worker stops. (A try
            # started with the last one's end runs: the stop's grace applies to it.)
            if self._stop_at is not None:
                return RunResult(try_id, RunStatus.DEFERRED, "the worker is stopping")
            claim = self._claim(relpath) if ahead is None else ahead.claim
            try:
                started = self.client.start(try_id, start_token, claim)
            except Refused as exc:
                return RunResult(try_id, RunStatus.REFUSED, str(exc))
            except Unreachable as exc:
                return RunResult(try_id, RunStatus.DEFERRED, str(exc))
        answer = started
        # A kept try process reads each of its tries' tokens from one shared mapping; a try
        # forked on its own gets a mapping of its own, so that nothing it leaves behind can
        # read the tokens of the tries after it.
        kept = isinstance(self.supervisor, TaskProcess)
        token = self._token if kept else TokenBox(answer.token)
        token.set(answer.token)
        try:
            loaded = self._versions.load(try_id, answer, token.get(), Path(workload.dags_folder))
            finished, killed = self._supervise(try_id, answer, loaded, token, relpath, on_long)
            following = then() if then is not None and self._stop_at is None else None
            return self._report(try_id, finished, killed, token.get(), relpath, following)
        finally:
            if self.supervisor.running:  # an error of our own: the try must not outlive it
                self.supervisor.shutdown()
            if not kept:
                token.close()

    def _claim(self, relpath: str) -> Claim:
        return Claim(
            hostname=self.config.hostname,
            pid=os.getpid(),
            worker=self.config.worker,
            started_at=datetime.now(UTC),
            log_location=self.config.live_location(relpath) if self.config.live_location else None,
        )

    # -- running -----------------------------------------------------------------------------
    def _supervise(
        self,
        try_id: int,
        answer: StartAnswer,
        loaded: LoadedVersion,
        token: TokenBox,
        relpath: str,
        on_long: Callable[[], object] | None = None,
    ) -> tuple[supervisor.FinishedTry, TryOutcome | None]:
        """Fork the try and watch it to its end; how it ended, and the outcome to report
        instead of its own if it was killed (the worker stopping, the try given up)."""
        request = answer.request
        max_bytes = answer.xcom_max_bytes or self.config.xcom_max_bytes
        label, log_path = try_label(request), self.config.logs_folder / relpath
        if isinstance(self.supervisor, TaskProcess):
            job = self._job(try_id, answer, loaded, max_bytes)
            self.supervisor.start(
                try_id, job, label=label, timeout=answer.timeout, log_path=log_path
            )
        else:
            target = loaded.try_target(
                request, RemoteXComSource(self.client, try_id, token), max_bytes
            )
            self.supervisor.start(
                try_id, target, label=label, timeout=answer.timeout, log_path=log_path
            )
        interval = answer.heartbeat_interval
        next_beat = time.monotonic() + interval
        long_at = time.monotonic() + self.config.hand_back_after
        killed: TryOutcome | None = None
        while True:
            now = time.monotonic()
            if on_long is not None and now >= long_at:
                on_long()
                on_long = None
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

    def _job(
        self, try_id: int, answer: StartAnswer, loaded: LoadedVersion, max_bytes: int
    ) -> dict[str, Any]:
        """What a kept try process needs to run the try (``_run_job``)."""
        return {
            "try_id": try_id,
            "request": answer.request.to_json(),
            "max_bytes": max_bytes,
            **self._versions.job_fields(answer, loaded),
        }

    def _run_job(self, job: Mapping[str, Any]) -> TryOutcome:
        """In the kept try process: the try ``_job`` describes."""
        loaded = self._versions.for_job(job)
        source = RemoteXComSource(self.client, int(job["try_id"]), self._token)
        request = TryRequest.from_json(job["request"])
        return loaded.try_target(request, source, int(job["max_bytes"]))()

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
        following: tuple[Mapping[str, Any], str] | None = None,
    ) -> RunResult:
        outcome = killed or finished.outcome
        then = None
        if following is not None:
            workload = Workload.from_json(following[0])
            then = NextStart(workload.try_id, following[1], self._claim(_log_relpath(workload)))
        location = None
        if self.config.upload is not None:
            try:
                location = self.config.upload(relpath)
            except Exception:
                log.exception("try %s: could not upload its log %s", try_id, relpath)
        # Unless the API answered for the next try, it is started on its own with this
        # claim (answered again if the API had started it after all).
        unanswered = None if then is None else Claimed(then.try_id, then.claim, None)
        try:
            state, started = self.client.end(
                try_id,
                token,
                outcome,
                started_at=finished.started_at,
                ended_at=finished.ended_at,
                pid=finished.pid,
                log_location=location,
                then=then,
            )
        except Refused as exc:
            if exc.status == 409:
                detail = f"had ended already: {exc}"
                return RunResult(try_id, RunStatus.ENDED, detail, outcome, unanswered)
            return RunResult(try_id, RunStatus.UNREPORTED, str(exc), outcome, unanswered)
        except Unreachable as exc:
            return RunResult(try_id, RunStatus.UNREPORTED, str(exc), outcome, unanswered)
        claimed = None if then is None else Claimed(then.try_id, then.claim, started)
        return RunResult(try_id, RunStatus.ENDED, state.value, outcome, claimed)


def _log_relpath(workload: Workload) -> str:
    return workload.log_relpath or os.path.basename(workload.log_path)
