"""What the scheduler's Celery messages show of their arguments: the tries' ids, never the
workloads or their start tokens (Celery would show a repr of every argument)."""

from __future__ import annotations

from typing import Any

from kombu.connection import Connection

from gnomon.executors import celery_app

TOKEN = "gnx_secret-start-token"


def _tries(*try_ids: int) -> list[dict[str, Any]]:
    return [{"workload": {"try_id": i, "queue": "default"}, "token": TOKEN} for i in try_ids]


def _published(tries: list[dict[str, Any]]) -> Any:
    celery_app.send_tries(celery_app.make_app("memory://"), tries, "default")
    with Connection("memory://").SimpleQueue("default") as queue:  # type: ignore[no-untyped-call]
        message = queue.get(timeout=5)
        message.ack()
    return message


def test_a_message_of_several_tries_shows_their_ids_only() -> None:
    message = _published(_tries(7, 8, 9))
    assert message.headers["task"] == celery_app.RUN_TRIES
    assert message.headers["kwargsrepr"] == "{'tries': [7, 8, 9]}"
    assert message.headers["argsrepr"] == "()"
    assert TOKEN not in str(message.headers)
    assert [t["token"] for t in message.payload[1]["tries"]] == [TOKEN] * 3  # the body has them


def test_a_message_of_one_try_shows_its_id() -> None:
    message = _published(_tries(5))
    assert message.headers["task"] == celery_app.RUN_TRY
    assert message.headers["kwargsrepr"] == "{'try': 5}"
    assert TOKEN not in str(message.headers)
