"""Retries: what a failed try leads to, and how long until the next try."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from gnomon.semantics.retries import MAX_RETRY_DELAY, RetryPolicy, after_failure, policy_of
from gnomon.semantics.states import TaskState

ENDED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def backoff(**kwargs: timedelta | None) -> RetryPolicy:
    return RetryPolicy(retries=100, retry_delay=MINUTE, retry_exponential_backoff=True, **kwargs)


# -- after_failure --------------------------------------------------------------------------------


def test_a_failed_try_is_up_for_retry_while_tries_remain() -> None:
    outcome = after_failure(RetryPolicy(retries=2), try_number=1, ended_at=ENDED)
    assert outcome.state is TaskState.UP_FOR_RETRY


def test_the_last_retry_is_still_granted() -> None:
    outcome = after_failure(RetryPolicy(retries=2), try_number=2, ended_at=ENDED)
    assert outcome.state is TaskState.UP_FOR_RETRY


def test_a_failed_try_is_failed_once_the_retries_are_exhausted() -> None:
    outcome = after_failure(RetryPolicy(retries=2), try_number=3, ended_at=ENDED)
    assert outcome.state is TaskState.FAILED
    assert outcome.retry_at is None


def test_a_task_without_retries_fails_on_its_first_failed_try() -> None:
    outcome = after_failure(RetryPolicy(retries=0), try_number=1, ended_at=ENDED)
    assert outcome.state is TaskState.FAILED


def test_a_non_retryable_failure_fails_even_with_retries_left() -> None:
    # FailTask: the task says retrying cannot help.
    outcome = after_failure(RetryPolicy(retries=5), try_number=1, ended_at=ENDED, retryable=False)
    assert outcome.state is TaskState.FAILED
    assert outcome.retry_at is None


def test_a_retry_is_due_one_retry_delay_after_the_failed_try_ended() -> None:
    policy = RetryPolicy(retries=1, retry_delay=timedelta(seconds=90))
    outcome = after_failure(policy, try_number=1, ended_at=ENDED)
    assert outcome.retry_at == ENDED + timedelta(seconds=90)


def test_the_default_retry_delay_is_five_minutes() -> None:
    outcome = after_failure(RetryPolicy(retries=1), try_number=1, ended_at=ENDED)
    assert outcome.retry_at == ENDED + timedelta(minutes=5)


def test_a_retry_with_backoff_is_due_after_the_delay_for_the_next_try() -> None:
    policy = backoff()
    outcome = after_failure(policy, try_number=3, ended_at=ENDED, seed="ti")
    assert outcome.retry_at == ENDED + policy.delay_before(4, seed="ti")


# -- delay_before ---------------------------------------------------------------------------------


@pytest.mark.parametrize("next_try", [2, 3, 10])
def test_without_backoff_every_retry_waits_the_fixed_delay(next_try: int) -> None:
    policy = RetryPolicy(retries=10, retry_delay=MINUTE)
    assert policy.delay_before(next_try, seed="ti") == MINUTE


@pytest.mark.parametrize(
    ("next_try", "doublings"),
    [(2, 1), (3, 2), (4, 4), (6, 16)],
    ids=["first retry", "second retry", "third retry", "fifth retry"],
)
def test_backoff_doubles_the_delay_per_retry_plus_at_most_an_eighth(
    next_try: int, doublings: int
) -> None:
    base = MINUTE * doublings
    assert base <= backoff().delay_before(next_try, seed="ti") <= base * 9 / 8


def test_backoff_jitter_stays_within_an_eighth_for_any_seed() -> None:
    delays = [backoff().delay_before(3, seed=f"run-{i}") for i in range(200)]
    assert all(2 * MINUTE <= d <= 2 * MINUTE * 9 / 8 for d in delays)


def test_backoff_jitter_varies_with_the_seed() -> None:
    delays = {backoff().delay_before(3, seed=f"run-{i}") for i in range(20)}
    assert len(delays) > 1


def test_backoff_jitter_is_deterministic_for_the_same_seed_and_try() -> None:
    assert backoff().delay_before(5, seed="dag#task#run") == backoff().delay_before(
        5, seed="dag#task#run"
    )


def test_backoff_is_capped_by_max_retry_delay() -> None:
    policy = backoff(max_retry_delay=timedelta(minutes=10))
    assert policy.delay_before(10, seed="ti") == timedelta(minutes=10)


def test_backoff_below_max_retry_delay_is_not_capped() -> None:
    policy = backoff(max_retry_delay=timedelta(minutes=10))
    assert policy.delay_before(2, seed="ti") < timedelta(minutes=10)


def test_backoff_is_capped_at_24_hours_without_max_retry_delay() -> None:
    assert backoff().delay_before(20, seed="ti") == MAX_RETRY_DELAY == timedelta(hours=24)


def test_backoff_is_capped_at_24_hours_even_when_max_retry_delay_is_longer() -> None:
    policy = backoff(max_retry_delay=timedelta(days=3))
    assert policy.delay_before(20, seed="ti") == timedelta(hours=24)


@pytest.mark.parametrize("next_try", [45, 2000])
def test_backoff_after_very_many_tries_is_capped_instead_of_overflowing(next_try: int) -> None:
    # The doubled delay outgrows timedelta (and float) long before try numbers stop growing.
    assert backoff().delay_before(next_try, seed="ti") == MAX_RETRY_DELAY


# -- policy_of ------------------------------------------------------------------------------------


def test_policy_of_reads_the_retry_attributes_of_a_task() -> None:
    task = SimpleNamespace(
        retries=3,
        retry_delay=timedelta(seconds=30),
        retry_exponential_backoff=True,
        max_retry_delay=timedelta(minutes=5),
    )
    assert policy_of(task) == RetryPolicy(
        retries=3,
        retry_delay=timedelta(seconds=30),
        retry_exponential_backoff=True,
        max_retry_delay=timedelta(minutes=5),
    )
