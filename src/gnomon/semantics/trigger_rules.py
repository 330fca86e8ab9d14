"""Trigger rules: when may a task instance run, given the states of its upstream instances.

The rules and their meaning are Airflow's. ``evaluate`` is the only implementation; the local
test run and the scheduler both call it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from gnomon.semantics.states import TaskState


class TriggerRule(enum.StrEnum):
    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"


class Decision(enum.StrEnum):
    """What the trigger rule says about a task instance that has not started yet."""

    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


@dataclass(frozen=True, slots=True)
class UpstreamCounts:
    """How many upstream task instances are in each finished state, and how many exist."""

    total: int = 0
    success: int = 0
    failed: int = 0
    upstream_failed: int = 0
    skipped: int = 0
    removed: int = 0

    @classmethod
    def of(cls, states: Iterable[TaskState]) -> UpstreamCounts:
        total = success = failed = upstream_failed = skipped = removed = 0
        for state in states:
            total += 1
            if state is TaskState.SUCCESS:
                success += 1
            elif state is TaskState.FAILED:
                failed += 1
            elif state is TaskState.UPSTREAM_FAILED:
                upstream_failed += 1
            elif state is TaskState.SKIPPED:
                skipped += 1
            elif state is TaskState.REMOVED:
                removed += 1
        return cls(total, success, failed, upstream_failed, skipped, removed)

    @property
    def done(self) -> int:
        return self.success + self.failed + self.upstream_failed + self.skipped + self.removed

    @property
    def all_done(self) -> bool:
        return self.done >= self.total

    @property
    def any_failed(self) -> bool:
        return self.failed + self.upstream_failed > 0


def parse(value: str | TriggerRule) -> TriggerRule:
    """Return the rule named ``value``, or raise ``ValueError`` listing the valid names."""
    try:
        return TriggerRule(value)
    except ValueError:
        valid = ", ".join(rule.value for rule in TriggerRule)
        raise ValueError(f"unknown trigger rule {value!r}; valid rules: {valid}") from None


def evaluate(rule: TriggerRule, up: UpstreamCounts) -> Decision:
    """Decide a not-yet-started task instance from its upstream instances' states.

    A task with no upstream always runs. Rules that can be decided early (``one_success``,
    ``one_failed``, ``one_done``, and a failure under ``all_success``/``none_failed``) are, so a
    task never waits for upstreams whose outcome cannot change the answer. Removed upstream
    instances count as done and as neither success nor failure.
    """
    if up.total == 0 or rule is TriggerRule.ALWAYS:
        return Decision.RUN
    finished = up.all_done
    failures = up.failed + up.upstream_failed

    if rule is TriggerRule.ALL_SUCCESS:
        if failures:
            return Decision.UPSTREAM_FAILED
        if up.skipped:
            return Decision.SKIP
        return Decision.RUN if finished else Decision.WAIT

    if rule is TriggerRule.ALL_FAILED:
        if up.success or up.skipped:
            return Decision.SKIP
        return Decision.RUN if finished else Decision.WAIT

    if rule is TriggerRule.ALL_DONE:
        return Decision.RUN if finished else Decision.WAIT

    if rule is TriggerRule.ALL_DONE_MIN_ONE_SUCCESS:
        if not finished:
            return Decision.WAIT
        return Decision.RUN if up.success else Decision.SKIP

    if rule is TriggerRule.ALL_SKIPPED:
        if up.success or failures:
            return Decision.SKIP
        return Decision.RUN if finished else Decision.WAIT

    if rule is TriggerRule.ONE_SUCCESS:
        if up.success:
            return Decision.RUN
        if not finished:
            return Decision.WAIT
        return Decision.SKIP if up.skipped == up.total else Decision.UPSTREAM_FAILED

    if rule is TriggerRule.ONE_FAILED:
        if failures:
            return Decision.RUN
        return Decision.SKIP if finished else Decision.WAIT

    if rule is TriggerRule.ONE_DONE:
        if up.success or up.failed:
            return Decision.RUN
        return Decision.SKIP if finished else Decision.WAIT

    if rule is TriggerRule.NONE_FAILED:
        if failures:
            return Decision.UPSTREAM_FAILED
        return Decision.RUN if finished else Decision.WAIT

    if rule is TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS:
        if failures:
            return Decision.UPSTREAM_FAILED
        if not finished:
            return Decision.WAIT
        return Decision.RUN if up.success else Decision.SKIP

    if rule is TriggerRule.NONE_SKIPPED:
        if up.skipped:
            return Decision.SKIP
        return Decision.RUN if finished else Decision.WAIT

    raise AssertionError(f"unhandled trigger rule {rule!r}")  # pragma: no cover
