"""The worker side of the Celery executor, run by ``gnomon worker``.

Celery's prefork pool gives the warm processes: each pool process imports Gnomon and the
operators once, keeps the DAG versions it loaded, and forks every try from itself through the
remote runner (``executors.remote``), which claims the try, heartbeats and reports through the
execution API. The worker never touches the database.

Lifecycles:

- **SIGTERM (or Ctrl-C) to the worker**: Celery stops taking messages (warm shutdown) and
  waits for its pool; the pool processes are told (SIGUSR2) to give their running tries
  ``shutdown_grace`` seconds, then kill them and report them ended by a shutdown, which the
  scheduler retries without using up a retry.
- **Celery's worker stops on an error of its own** ("Unrecoverable error": Celery 5.7's
  Redis transport, say, failing while it closes a connection the broker dropped with a
  message still unacknowledged): ``keep_running`` starts it again in the same process, so a
  broker restart never leaves a worker gone. Its messages come back from the broker.
- **The worker killed with -9**: Linux kills its pool processes (Celery asks for a
  parent-death signal) and their tries with them (the supervisor asks for one too), reporting
  nothing: the tries stop heartbeating and are failed as zombies, then retried. No try runs
  on unsupervised, so none can finish unreported and then run again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from celery.app.base import Celery
from celery.exceptions import Reject
from celery.signals import worker_process_init, worker_shutting_down

# Imported in the main process, so every pool process (forked from it) finds them loaded.
import gnomon.operators  # noqa: F401
from gnomon.executors import in_turn, redis_leases, remote
from gnomon.executors.celery_app import (
    DEFAULT_QUEUE,
    RUN_TRIES,
    RUN_TRY,
    is_redis,
    make_app,
    send_tries,
)

log = logging.getLogger(__name__)

#: Sent by the worker's main process to its pool processes when it shuts down. Not SIGUSR1:
#: billiard installs its soft time limit handler for that one after ``worker_process_init``,
#: which would raise ``SoftTimeLimitExceeded`` in the try's runner instead (the try killed
#: unreported, a zombie that uses up a retry).
STOP_SIGNAL = signal.SIGUSR2


@dataclass(frozen=True)
class WorkerConfig:
    broker_url: str
    #: What each pool process's runner gets; its ``worker`` name gains the process's pid.
    runner: remote.RunnerConfig
    shutdown_grace: float
    visibility_timeout: float = 600.0
    socket_timeout: float = 30.0


class _PoolProcess:
    """What one pool process holds: its runner (with its loaded DAGs)."""

    runner: remote.TryRunner | None = None


def build_app(config: WorkerConfig, stopping: threading.Event | None = None) -> Celery:
    """The worker's Celery app; ``stopping`` is set once a shutdown is asked for (a signal
    to the worker), which ``keep_running`` reads."""
    app = make_app(
        config.broker_url,
        visibility_timeout=config.visibility_timeout,
        socket_timeout=config.socket_timeout,
    )
    # Celery's tracer logs every task's success at INFO in the pool process (with a repr of
    # its arguments): a line per try that the try's own log and the database already tell,
    # for ~0.1-0.2 ms of CPU each. Warnings and errors still show; so does the main
    # process's line for each message received.
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    if is_redis(config.broker_url):
        app.steps["consumer"].add(redis_leases.RenewRunningMessages)
    state = _PoolProcess()

    def runner() -> remote.TryRunner:
        if state.runner is None:  # the solo pool, or a test: no worker_process_init
            state.runner = _make_runner(config)
        return state.runner

    def report(result: remote.RunResult) -> None:
        if result.status is remote.RunStatus.REFUSED:
            # A second delivery (visibility timeout, a lost worker, a broker restart), or a
            # try taken back meanwhile: nothing ran; acknowledge and drop the message.
            log.info(
                "try %s not run: already started elsewhere, finished or taken back (%s); dropped",
                result.try_id,
                result.detail,
            )
        elif result.status is remote.RunStatus.DEFERRED:
            # Not run (this worker is stopping, or the API is unreachable): give the message
            # back for another worker. Its tries that ran here are refused there.
            raise Reject(result.detail, requeue=True)

    @app.task(name=RUN_TRY, bind=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def run_try(workload: Mapping[str, Any], token: str) -> str:
        result = runner().run(workload, token)
        report(result)
        return result.status.value

    @app.task(name=RUN_TRIES, bind=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def run_tries(tries: list[Mapping[str, Any]]) -> list[str]:
        """The tries of one message, one after another (``in_turn.run_in_turn``); when one
        runs long, those not started yet go back to the queue in a message of their own,
        for any free worker, rather than wait behind it. The message is acknowledged only
        after its last try here ended, so a worker lost meanwhile has it delivered again:
        then each try that was claimed already (here, or from the handed-back message) is
        refused at its second claim and runs once."""
        results = in_turn.run_in_turn(runner(), tries, lambda rest: _hand_back(app, rest))
        for result in results:
            report(result)
        return [result.status.value for result in results]

    @worker_process_init.connect(weak=False)  # type: ignore[untyped-decorator]
    def _pool_process_init(**kwargs: Any) -> None:
        # Celery has Linux SIGKILL this process when the worker's main process dies; its tries
        # die with it (the runner's supervisor asks for the same), so none runs unsupervised.
        # SIGTERM is billiard's: it raises SystemExit, and the runner kills its try on the way
        # out.
        state.runner = _make_runner(config)

        def on_stop(signum: int, frame: FrameType | None) -> None:
            if state.runner is not None:
                state.runner.request_stop(config.shutdown_grace)

        signal.signal(STOP_SIGNAL, on_stop)

    @worker_shutting_down.connect(weak=False)  # type: ignore[untyped-decorator]
    def _shutting_down(**kwargs: Any) -> None:
        if stopping is not None:
            stopping.set()
        # Tell the pool processes; their tries get shutdown_grace to end. From a thread: this
        # runs in Celery's signal handler.
        threading.Thread(target=_signal_pool, daemon=True).start()

    return app


def keep_running(
    start: Callable[[], int],
    stopping: threading.Event,
    *,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], bool] | None = None,
    quick: float = 60.0,
    give_up_after: int = 5,
) -> int:
    """Run the Celery worker until a shutdown is asked for; its exit code.

    ``start`` runs one worker to its end and returns its exit code; ``pause(seconds)`` waits
    between starts, True if a shutdown came meanwhile (``stopping.wait``). One that stopped with a
    failure although nobody asked it to (``stopping`` is not set) is started again after a
    pause (2, 4, 8... seconds, at most 30). It gives up, returning that code for the process
    supervisor, after ``give_up_after`` failures in a row that each came within ``quick``
    seconds of their start: then the setup is wrong, and starting again will not mend it."""
    pause = pause or stopping.wait  # True: a shutdown came meanwhile
    failures = 0
    while True:
        began = clock()
        code = start()
        if code == 0 or stopping.is_set():
            return code
        failures = failures + 1 if clock() - began < quick else 1
        if failures >= give_up_after:
            log.error(
                "the Celery worker stopped on an error %d times in a row, each within %gs of "
                "its start (exit code %s): giving up",
                failures,
                quick,
                code,
            )
            return code
        seconds = min(30.0, 2.0**failures)
        log.error(
            "the Celery worker stopped on an error (exit code %s): starting it again in %gs",
            code,
            seconds,
        )
        if pause(seconds):
            return code


def _hand_back(app: Celery, tries: list[Mapping[str, Any]]) -> bool:
    """Send ``tries`` (``run_tries``' items not started yet) to their queue again; False if
    the broker did not take them, and they run here after all."""
    queue = tries[0]["workload"].get("queue") or DEFAULT_QUEUE
    try:
        send_tries(app, tries, queue)
    except Exception as exc:  # kombu's and the transport's errors alike
        log.warning("could not hand %d tries back to queue %s: %s", len(tries), queue, exc)
        return False
    log.info("a try runs long: %d tries of its message handed back to queue %s", len(tries), queue)
    return True


def _signal_pool() -> None:
    import billiard.process

    for child in billiard.process.active_children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, STOP_SIGNAL)


def _make_runner(config: WorkerConfig) -> remote.TryRunner:
    worker = f"{config.runner.worker}/{os.getpid()}"
    return remote.TryRunner(dataclasses.replace(config.runner, worker=worker))


def default_name() -> str:
    return f"gnomon@{socket.gethostname()}-{os.getpid()}"
