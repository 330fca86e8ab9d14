"""Redis broker: the message of a try that runs is not delivered again while it runs.

Redis has no acknowledgements of its own; kombu emulates them. A message a worker takes is
recorded in a sorted set (``unacked_index``, scored by the time it was taken), and any
consumer's periodic sweep puts back in its queue every message taken longer ago than the
visibility timeout and still not acknowledged. With late acknowledgement, that is every try
that runs longer than the visibility timeout: Celery's well-known redelivery of long tasks.

The claim in the database already makes such a second delivery harmless (it is refused). This
step makes it not happen: while a request runs in one of the worker's pool processes, the
worker's main process moves its message's score forward every quarter of the visibility
timeout, as a lease it renews. Only the score of an entry still there is moved (``ZADD XX``),
so an acknowledged or restored message is never brought back. What the visibility timeout is
for stays as it was: the messages of a worker that died stop being renewed and come back
after it, and so do messages taken but not yet running (prefetched), which another worker
with a free slot may then run sooner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from celery.bootsteps import StartStopStep
from celery.worker import state

log = logging.getLogger(__name__)

#: The shortest interval between renewals (seconds).
MIN_INTERVAL = 0.5


def renew(requests: Iterable[Any], now: float) -> int:
    """Move the unacknowledged-index score of each request's message to ``now``, if it is
    still in the index; how many were moved. Requests of other transports are skipped."""
    renewed = 0
    for request in requests:
        message = request.message
        channel = message.channel
        key = getattr(channel, "unacked_index_key", None)
        if key is None or message.acknowledged:
            continue
        try:
            with channel.conn_or_acquire() as client:
                renewed += int(client.zadd(key, {message.delivery_tag: now}, xx=True, ch=True))
        except Exception as exc:  # the broker away: the next renewal tries again
            log.debug("cannot renew message %s: %s", message.delivery_tag, exc)
    return renewed


class RenewRunningMessages(StartStopStep):  # type: ignore[misc]
    """A consumer step (``app.steps["consumer"]``): renews the messages of the requests the
    pool runs, every quarter of the visibility timeout in the app's transport options."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        timeout = float(parent.app.conf.broker_transport_options["visibility_timeout"])
        self.interval = max(MIN_INTERVAL, timeout / 4)
        self._timer: Any = None

    def start(self, parent: Any) -> None:
        self._timer = parent.timer.call_repeatedly(self.interval, self._renew)

    def stop(self, parent: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    shutdown = stop

    @staticmethod
    def _renew() -> None:
        renew(list(state.active_requests), time.time())
