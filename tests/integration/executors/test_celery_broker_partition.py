"""A Redis broker cut off by the network (no reset: packets just stop coming back) holds the
scheduler's publisher up for the broker socket timeout only: the send fails, is retried on a
new connection, and the message arrives once the network is back."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from support.blackhole import Blackhole
from support.processes import wait_for
from support.remote import execution_key
from support.workloads import workload

from gnomon.executors.celery import CeleryExecutor


@pytest.fixture
def direct(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_a_publish_to_a_redis_cut_off_by_the_network_times_out_and_is_retried(
    redis_url: str, direct: redis.Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    where = direct.connection_pool.connection_kwargs
    proxy = Blackhole((where["host"], where["port"]))
    queue = f"partition-{uuid.uuid4().hex[:8]}"
    executor = CeleryExecutor(
        broker_url=f"redis://127.0.0.1:{proxy.port}/{where.get('db', 0)}",
        token_key=execution_key(tmp_path / "key"),
        queued_timeout=600,
        socket_timeout=1.0,
    )
    caplog.set_level(logging.INFO, logger="gnomon.executors.celery")
    executor.start()
    try:
        executor.submit(workload(1, queue))
        wait_for(lambda: direct.llen(queue) == 1)

        proxy.cut()
        executor.submit(workload(2, queue))
        # Without a socket timeout the publish would wait for an answer forever.
        wait_for(lambda: "cannot send try 2" in caplog.text, timeout=30)
        assert direct.llen(queue) == 1

        proxy.mend()
        wait_for(lambda: direct.llen(queue) == 2, timeout=30)
        # Logged by the publisher's thread once the send returned: after Redis has it.
        wait_for(lambda: "the broker is back: try 2 (dag.t2) sent" in caplog.text)
    finally:
        executor.stop(grace=1.0)
        proxy.close()
        direct.delete(queue)
