"""One broker message's tries, run one after another by a ``remote.TryRunner``.

Each try's end report claims the next (``POST /end`` with ``next``: one request per try
instead of two); when one runs long, those not started yet are handed back to the queue,
so that a long task holds up no other (``celery_worker`` sends them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gnomon.executors.remote import Claimed, RunResult, RunStatus, TryRunner

log = logging.getLogger(__name__)


def run_in_turn(
    runner: TryRunner,
    tries: Sequence[Mapping[str, Any]],
    hand_back: Callable[[list[Mapping[str, Any]]], bool] | None = None,
) -> list[RunResult]:
    """Run ``tries`` (``{"workload", "token"}`` each: one broker message's) one after
    another. Each try's end report claims the next (one request instead of two). When one
    runs for longer than ``hand_back_after``, ``hand_back`` is given those not started yet; if it
    took them (True), they are not run here. Stops at a try that could not be started
    (``DEFERRED``: the worker stopping, the API unreachable), whose result comes last."""
    results: list[RunResult] = []
    handed_back = False
    claimed: Claimed | None = None
    for index, item in enumerate(tries):
        rest = list(tries[index + 1 :])

        def on_long(rest: list[Mapping[str, Any]] = rest) -> None:
            nonlocal handed_back
            handed_back = hand_back is not None and hand_back(rest)

        def then(rest: list[Mapping[str, Any]] = rest) -> tuple[Mapping[str, Any], str] | None:
            return None if handed_back else (rest[0]["workload"], rest[0]["token"])

        try:
            result = runner.run(
                item["workload"],
                item["token"],
                on_long=on_long if rest and hand_back is not None else None,
                then=then if rest else None,
                claimed=claimed,
            )
        except Exception as exc:
            # A fault of ours with this try (which, if it was claimed, its missing heartbeats
            # fail as a zombie): the message's other tries still run.
            log.exception("try %s: the runner failed", item["workload"].get("try_id"))
            result = RunResult(int(item["workload"]["try_id"]), RunStatus.UNREPORTED, repr(exc))
        results.append(result)
        claimed = result.next
        if handed_back or result.status is RunStatus.DEFERRED:
            break
    return results
