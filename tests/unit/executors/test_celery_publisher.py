"""The Celery executor's publisher: the scheduler hands it workloads without waiting, and it
sends them in order, waiting out a broker that is down."""

from __future__ import annotations

import threading
import time

from support.processes import eventually
from support.workloads import workload

from gnomon.executors.base import Workload
from gnomon.executors.celery import Publisher


class Broker:
    """Records what it was sent; down (raising) while ``down`` is set."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        #: Each message's (queue, try ids).
        self.messages: list[tuple[str, list[int]]] = []
        self.attempts = 0
        self.down = threading.Event()

    def send(self, message: list[Workload]) -> None:
        self.attempts += 1
        if self.down.is_set():
            raise ConnectionRefusedError("the broker is down")
        assert len({w.queue for w in message}) == 1, "one queue per message"
        self.messages.append((message[0].queue, [w.try_id for w in message]))
        self.sent.extend(w.try_id for w in message)


def test_workloads_are_sent_in_the_order_they_were_put() -> None:
    broker = Broker()
    publisher = Publisher(broker.send)
    publisher.start()
    for try_id in (1, 2, 3):
        publisher.put(workload(try_id))

    assert eventually(lambda: broker.sent == [1, 2, 3])
    assert publisher.unsent == 0
    assert publisher.stop(timeout=5) == 0


def test_a_broker_that_is_down_holds_up_neither_the_caller_nor_the_order() -> None:
    broker = Broker()
    broker.down.set()
    publisher = Publisher(broker.send, retry_first=0.01, retry_max=0.05)
    publisher.start()
    started = time.monotonic()
    for try_id in (1, 2, 3):
        publisher.put(workload(try_id))
    assert time.monotonic() - started < 0.5  # put never waits for the broker
    assert eventually(lambda: broker.attempts >= 3)
    assert (broker.sent, publisher.unsent) == ([], 3)

    broker.down.clear()

    assert eventually(lambda: broker.sent == [1, 2, 3], 5)
    assert publisher.unsent == 0
    publisher.stop(timeout=5)


def test_stopping_while_the_broker_is_down_reports_what_was_not_sent() -> None:
    broker = Broker()
    broker.down.set()
    publisher = Publisher(broker.send, retry_first=30, retry_max=30)
    publisher.start()
    for try_id in (1, 2):
        publisher.put(workload(try_id))
    assert eventually(lambda: broker.attempts == 1)

    started = time.monotonic()
    assert publisher.stop(timeout=5) == 2
    assert time.monotonic() - started < 2  # not the 30 s retry wait
    assert broker.sent == []


def test_tries_waiting_together_share_messages_per_queue() -> None:
    broker = Broker()
    broker.down.set()  # so that all of them wait together
    publisher = Publisher(broker.send, per_message=3, retry_first=0.01, retry_max=0.01)
    publisher.start()
    publisher.put(workload(1))
    assert eventually(lambda: broker.attempts >= 1)
    for try_id, queue in [(2, "a"), (3, "b"), (4, "a"), (5, "a"), (6, "a"), (7, "b")]:
        publisher.put(workload(try_id, queue))
    broker.down.clear()

    assert eventually(lambda: publisher.unsent == 0, 5)
    # The first was taken alone; the rest by queue, in order, three at most per message.
    assert broker.messages == [
        ("default", [1]),
        ("a", [2, 4, 5]),
        ("a", [6]),
        ("b", [3, 7]),
    ]
    publisher.stop(timeout=5)


def test_one_try_per_message_by_default() -> None:
    broker = Broker()
    broker.down.set()
    publisher = Publisher(broker.send, retry_first=0.01, retry_max=0.01)
    publisher.start()
    for try_id in (1, 2, 3):
        publisher.put(workload(try_id))
    broker.down.clear()
    assert eventually(lambda: publisher.unsent == 0, 5)
    assert broker.messages == [("default", [1]), ("default", [2]), ("default", [3])]
    publisher.stop(timeout=5)
