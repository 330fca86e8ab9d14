"""The Celery executor: the scheduler's side. Workloads become broker messages on their
task's queue, each try with a token that lets one worker claim that one try. Tries ready
together for the same queue share a message, up to ``tries_per_message``: a message, its
publish and its delivery cost more CPU than a small task, and a worker runs a message's
tries one after another, handing the rest back to the queue when one runs long
(``celery_worker``).

Nothing comes back through Celery: workers report starts, heartbeats and ends to the
execution API, which writes them to the database and wakes the schedulers. So this executor
has no pipes to watch and no events to collect, and its tries outlive it: a scheduler that
stops or dies leaves running tries to their workers.

Messages are sent by a thread of their own (``Publisher``), so that a broker that is down or
slow never holds up the scheduler's loop (its passes, its heartbeat: another scheduler would
take a scheduler stuck in a publish for dead). Tries whose message is not sent yet stay
``queued`` in the database; the publisher sends them once the broker is back, or, if the
scheduler stops first, adoption or ``task_queued_timeout`` takes them back.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from gnomon.executors import tokens
from gnomon.executors.base import Event, Workload
from gnomon.executors.celery_app import make_app, send_tries

log = logging.getLogger(__name__)

#: The most tries one scheduler pass sends to the broker, and the most waiting to be sent.
PER_PASS = 512
#: Seconds between attempts to reach a broker that is down: from the first, doubling.
RETRY_FIRST = 0.5
RETRY_MAX = 10.0


class Publisher:
    """Sends workloads in order from a thread, retrying each message until the broker takes
    it or ``stop`` is called. ``send`` is the one call that talks to the broker: it gets the
    workloads of one message, up to ``per_message`` of one queue that were waiting together
    (a workload put alone is sent alone, without waiting for company)."""

    def __init__(
        self,
        send: Callable[[list[Workload]], None],
        *,
        per_message: int = 1,
        retry_first: float = RETRY_FIRST,
        retry_max: float = RETRY_MAX,
    ) -> None:
        self._send = send
        self._per_message = per_message
        self._retry_first = retry_first
        self._retry_max = retry_max
        self._waiting: queue.SimpleQueue[Workload | None] = queue.SimpleQueue()
        self._unsent = 0  # put and not sent yet (read without the lock: a hint)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gnomon-publisher", daemon=True)

    @property
    def unsent(self) -> int:
        return self._unsent

    def start(self) -> None:
        self._thread.start()

    def put(self, workload: Workload) -> None:
        with self._lock:
            self._unsent += 1
        self._waiting.put(workload)

    def stop(self, timeout: float) -> int:
        """Stop after the message being sent; the number left unsent."""
        self._stop.set()
        self._waiting.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        return self._unsent

    def _run(self) -> None:
        while (first := self._waiting.get()) is not None:
            for message in self._messages(first):
                if not self._deliver(message):
                    return
                with self._lock:
                    self._unsent -= len(message)

    def _messages(self, first: Workload) -> list[list[Workload]]:
        """``first`` and what waits behind it, by queue in order, ``per_message`` at most
        in each message."""
        waiting = [first]
        while len(waiting) < PER_PASS:
            try:
                more = self._waiting.get_nowait()
            except queue.Empty:
                break
            if more is None:  # stop: after these
                self._waiting.put(None)
                break
            waiting.append(more)
        by_queue: dict[str, list[Workload]] = {}
        for workload in waiting:
            by_queue.setdefault(workload.queue, []).append(workload)
        size = self._per_message
        return [
            group[start : start + size]
            for group in by_queue.values()
            for start in range(0, len(group), size)
        ]

    def _deliver(self, message: list[Workload]) -> bool:
        """Send ``message``, waiting out a broker that is down; False if stopped first."""
        delay = self._retry_first
        failed = False
        while not self._stop.is_set():
            try:
                self._send(message)
            except Exception as exc:  # kombu's and the transport's errors alike
                if not failed:
                    log.error(
                        "cannot send %s to the broker, retrying until it is back "
                        "(%d tries waiting to be sent): %s",
                        _describe(message),
                        self._unsent,
                        exc,
                    )
                failed = True
                self._stop.wait(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            if failed:
                log.info(
                    "the broker is back: %s sent (%d more waiting)",
                    _describe(message),
                    self._unsent - len(message),
                )
            return True
        return False


def _describe(message: list[Workload]) -> str:
    first = message[0]
    names = f"try {first.try_id} ({first.request.dag_id}.{first.request.task_id})"
    return names if len(message) == 1 else f"{names} and {len(message) - 1} more tries"


class CeleryExecutor:
    tries_outlive_scheduler = True

    def __init__(
        self,
        *,
        broker_url: str,
        token_key: bytes,
        queued_timeout: float,
        visibility_timeout: float = 600.0,
        socket_timeout: float = 30.0,
        tries_per_message: int = 1,
    ) -> None:
        self._broker_url = broker_url
        self._socket_timeout = socket_timeout
        self._token_key = token_key
        # A start token must outlive the longest wait in the queue: after task_queued_timeout
        # the scheduler takes the try back, and its old message is refused anyway.
        self._start_token_lifetime = queued_timeout + 300.0
        self._visibility_timeout = visibility_timeout
        self._app: Any = None
        self._publisher = Publisher(self._send, per_message=tries_per_message)
        self._stopping = False

    def start(self) -> None:
        self._app = make_app(
            self._broker_url,
            visibility_timeout=self._visibility_timeout,
            socket_timeout=self._socket_timeout,
        )
        self._publisher.start()

    @property
    def open_slots(self) -> int:
        """Tries handed to the broker per scheduler pass, less those still waiting to be sent
        (a broker that is down stops the queueing). How many run at once is up to the
        workers' concurrency, pools and each DAG's max_active_tasks."""
        return 0 if self._stopping else max(0, PER_PASS - self._publisher.unsent)

    def submit(self, workload: Workload) -> None:
        self._publisher.put(workload)

    def _send(self, message: list[Workload]) -> None:
        # Issued at each attempt, so a message sent late still carries fresh tokens.
        items = [
            {
                "workload": workload.to_json(),
                "token": tokens.issue(
                    self._token_key, workload.try_id, "start", self._start_token_lifetime
                ),
            }
            for workload in message
        ]
        send_tries(self._app, items, message[0].queue)

    def fileno_list(self) -> list[int]:
        return []

    def collect(self) -> list[Event]:
        return []

    def running_try_ids(self) -> list[int]:
        """None: remote tries heartbeat through the execution API themselves."""
        return []

    def kill(self, try_id: int) -> None:
        """Not from here: the try's worker learns at its next heartbeat (409) and kills it."""

    def stop(self, grace: float) -> list[Event]:
        self._stopping = True
        unsent = self._publisher.stop(timeout=max(grace, 1.0))
        if unsent:
            log.warning(
                "stopping with %d tries not sent to the broker: they stay queued until another "
                "scheduler takes them back",
                unsent,
            )
        if self._app is not None:
            self._app.close()
        return []
