"""The Celery executor: the scheduler's side. Each workload becomes one broker message on the
task's queue, with a token that lets one worker claim that one try.

Nothing comes back through Celery: workers report starts, heartbeats and ends to the
execution API, which writes them to the database and wakes the schedulers. So this executor
has no pipes to watch and no events to collect, and its tries outlive it: a scheduler that
stops or dies leaves running tries to their workers.
"""

from __future__ import annotations

import logging
from typing import Any

from gnomon.executors import tokens
from gnomon.executors.base import Event, Workload
from gnomon.executors.celery_app import RUN_TRY, make_app

log = logging.getLogger(__name__)

#: The most tries one scheduler pass sends to the broker.
PER_PASS = 512


class CeleryExecutor:
    tries_outlive_scheduler = True

    def __init__(
        self,
        *,
        broker_url: str,
        token_key: bytes,
        queued_timeout: float,
        visibility_timeout: float = 600.0,
    ) -> None:
        self._broker_url = broker_url
        self._token_key = token_key
        # A start token must outlive the longest wait in the queue: after task_queued_timeout
        # the scheduler takes the try back, and its old message is refused anyway.
        self._start_token_lifetime = queued_timeout + 300.0
        self._visibility_timeout = visibility_timeout
        self._app: Any = None
        self._stopping = False

    def start(self) -> None:
        self._app = make_app(self._broker_url, visibility_timeout=self._visibility_timeout)

    @property
    def open_slots(self) -> int:
        """Tries handed to the broker per scheduler pass. How many run at once is up to the
        workers' concurrency, pools and each DAG's max_active_tasks."""
        return 0 if self._stopping else PER_PASS

    def submit(self, workload: Workload) -> None:
        token = tokens.issue(self._token_key, workload.try_id, "start", self._start_token_lifetime)
        try:
            self._app.send_task(
                RUN_TRY,
                kwargs={"workload": workload.to_json(), "token": token},
                queue=workload.queue,
            )
        except Exception as exc:
            # The try stays queued in the database; task_queued_timeout takes it back.
            log.error(
                "could not send try %s (%s.%s) to the broker: %s; it is queued again after "
                "the queued timeout",
                workload.try_id,
                workload.request.dag_id,
                workload.request.task_id,
                exc,
            )

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
        if self._app is not None:
            self._app.close()
        return []
