"""Retry decisions: what a failed try leads to, and when the next try may start."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gnomon.semantics.states import TaskState

#: Upper bound on any retry delay, as in Airflow (24 hours).
MAX_RETRY_DELAY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 0
    retry_delay: timedelta = timedelta(seconds=300)
    retry_exponential_backoff: bool = False
    max_retry_delay: timedelta | None = None

    def delay_before(self, next_try_number: int, seed: str = "") -> timedelta:
        """The wait before try ``next_try_number`` (2 for the first retry).

        With exponential backoff the delay doubles per retry (``retry_delay * 2**(n-1)`` for the
        n-th retry) with a deterministic jitter of up to 1/8 derived from ``seed``, capped by
        ``max_retry_delay`` and by 24 hours.
        """
        delay = self.retry_delay
        if self.retry_exponential_backoff:
            nth_retry = max(next_try_number - 1, 1)
            # Clamp before building the timedelta, as Airflow does: the doubling outgrows
            # timedelta after a few dozen retries and float after ~1000. From 2**64 on, any
            # positive delay is past the 24h cap anyway.
            base = self.retry_delay.total_seconds() * (2 ** min(nth_retry - 1, 64))
            digest = hashlib.sha1(f"{seed}#{next_try_number}".encode()).digest()
            jitter = base / 8 * (int.from_bytes(digest[:4], "big") / 0xFFFFFFFF)
            delay = timedelta(seconds=min(base + jitter, MAX_RETRY_DELAY.total_seconds()))
        cap = min(self.max_retry_delay or MAX_RETRY_DELAY, MAX_RETRY_DELAY)
        return min(delay, cap)


def policy_of(task: Any) -> RetryPolicy:
    """The retry policy of a task (an operator or a serialized task: same attribute names)."""
    return RetryPolicy(
        retries=task.retries,
        retry_delay=task.retry_delay,
        retry_exponential_backoff=task.retry_exponential_backoff,
        max_retry_delay=task.max_retry_delay,
    )


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    state: TaskState
    retry_at: datetime | None


def after_failure(
    policy: RetryPolicy,
    try_number: int,
    ended_at: datetime,
    *,
    retryable: bool = True,
    seed: str = "",
) -> FailureOutcome:
    """What a failed try ``try_number`` (1-based) leads to.

    ``up_for_retry`` while tries remain (``try_number <= retries``) and the failure is
    retryable (``FailTask`` is not); otherwise ``failed``.
    """
    if retryable and try_number <= policy.retries:
        return FailureOutcome(
            TaskState.UP_FOR_RETRY, ended_at + policy.delay_before(try_number + 1, seed)
        )
    return FailureOutcome(TaskState.FAILED, None)
