"""Renewing the message of a running try on Redis (``executors.redis_leases``), against a real
Redis and kombu's own sweep of unacknowledged messages."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from kombu.connection import Connection
from support.services import PrivateRedis

from gnomon.executors import redis_leases

VISIBILITY_TIMEOUT = 1.0


def _connection(url: str) -> Any:
    return Connection(url, transport_options={"visibility_timeout": VISIBILITY_TIMEOUT})  # type: ignore[no-untyped-call]


def test_a_renewed_message_outlives_the_visibility_timeout_and_an_abandoned_one_comes_back(
    private_redis: PrivateRedis,
) -> None:
    with _connection(private_redis.url) as worker, _connection(private_redis.url) as other:
        queue = worker.SimpleQueue("leases")
        queue.put("running")
        queue.put("abandoned")
        running, abandoned = queue.get(timeout=5), queue.get(timeout=5)  # taken, not acked
        assert (running.payload, abandoned.payload) == ("running", "abandoned")
        taken = time.time()

        # The worker renews the running one, as its timer would, for twice the timeout.
        while time.time() < taken + 2 * VISIBILITY_TIMEOUT:
            assert redis_leases.renew([SimpleNamespace(message=running)], time.time()) == 1
            time.sleep(VISIBILITY_TIMEOUT / 4)
        # Any consumer's sweep gives back what was taken longer ago than the timeout.
        other.default_channel.qos.restore_visible(num=100)

        assert private_redis.queued("leases") == 1
        assert queue.get(timeout=5).payload == "abandoned"
        running.ack()
        assert redis_leases.renew([SimpleNamespace(message=running)], time.time()) == 0
