"""Trigger rules: Airflow's meaning of each rule, decided from the upstream instances' states."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from gnomon.semantics.states import TaskState
from gnomon.semantics.trigger_rules import (
    Decision,
    TriggerRule,
    UpstreamCounts,
    evaluate,
    parse,
)

Rule = TriggerRule
State = TaskState

SUCCESS = State.SUCCESS
FAILED = State.FAILED
SKIPPED = State.SKIPPED
UPSTREAM_FAILED = State.UPSTREAM_FAILED
REMOVED = State.REMOVED
RUNNING = State.RUNNING

WAIT = Decision.WAIT
RUN = Decision.RUN
SKIP = Decision.SKIP
FAIL_UPSTREAM = Decision.UPSTREAM_FAILED


Row = tuple[TriggerRule, tuple[TaskState, ...], Decision]


def case(rule: TriggerRule, upstream: Sequence[TaskState], expected: Decision) -> Row:
    return rule, tuple(upstream), expected


def row_id(row: Row) -> str:
    """Such as ``all_success: success+running -> wait``."""
    rule, upstream, expected = row
    return f"{rule.value}: {'+'.join(state.value for state in upstream)} -> {expected.value}"


TABLE = [
    # all_success: the default. A failure or a skip decides at once.
    case(Rule.ALL_SUCCESS, [SUCCESS, SUCCESS], RUN),
    case(Rule.ALL_SUCCESS, [SUCCESS, RUNNING], WAIT),
    case(Rule.ALL_SUCCESS, [FAILED, RUNNING], FAIL_UPSTREAM),
    case(Rule.ALL_SUCCESS, [UPSTREAM_FAILED, SUCCESS], FAIL_UPSTREAM),
    case(Rule.ALL_SUCCESS, [SKIPPED, RUNNING], SKIP),
    case(Rule.ALL_SUCCESS, [SUCCESS, SKIPPED], SKIP),
    case(Rule.ALL_SUCCESS, [SKIPPED, FAILED], FAIL_UPSTREAM),
    case(Rule.ALL_SUCCESS, [SUCCESS, REMOVED], RUN),
    # all_failed: every upstream failed or upstream_failed; a success or a skip decides at once.
    case(Rule.ALL_FAILED, [FAILED, UPSTREAM_FAILED], RUN),
    case(Rule.ALL_FAILED, [FAILED, RUNNING], WAIT),
    case(Rule.ALL_FAILED, [SUCCESS, RUNNING], SKIP),
    case(Rule.ALL_FAILED, [FAILED, SUCCESS], SKIP),
    case(Rule.ALL_FAILED, [FAILED, SKIPPED], SKIP),
    case(Rule.ALL_FAILED, [FAILED, REMOVED], RUN),
    # all_done: every upstream finished, whatever the state.
    case(Rule.ALL_DONE, [SUCCESS, FAILED, SKIPPED, UPSTREAM_FAILED], RUN),
    case(Rule.ALL_DONE, [FAILED, RUNNING], WAIT),
    case(Rule.ALL_DONE, [REMOVED], RUN),
    # all_done_min_one_success: every upstream finished and at least one succeeded.
    case(Rule.ALL_DONE_MIN_ONE_SUCCESS, [SUCCESS, FAILED, SKIPPED], RUN),
    case(Rule.ALL_DONE_MIN_ONE_SUCCESS, [SUCCESS, RUNNING], WAIT),
    case(Rule.ALL_DONE_MIN_ONE_SUCCESS, [FAILED, SKIPPED], SKIP),
    case(Rule.ALL_DONE_MIN_ONE_SUCCESS, [UPSTREAM_FAILED, REMOVED], SKIP),
    # all_skipped: every upstream skipped; anything else decides at once.
    case(Rule.ALL_SKIPPED, [SKIPPED, SKIPPED], RUN),
    case(Rule.ALL_SKIPPED, [SKIPPED, RUNNING], WAIT),
    case(Rule.ALL_SKIPPED, [SUCCESS, RUNNING], SKIP),
    case(Rule.ALL_SKIPPED, [FAILED, RUNNING], SKIP),
    case(Rule.ALL_SKIPPED, [UPSTREAM_FAILED, SKIPPED], SKIP),
    # one_success: the first success decides; none at all is an upstream failure ...
    case(Rule.ONE_SUCCESS, [SUCCESS, RUNNING], RUN),
    case(Rule.ONE_SUCCESS, [FAILED, SUCCESS], RUN),
    case(Rule.ONE_SUCCESS, [FAILED, RUNNING], WAIT),
    case(Rule.ONE_SUCCESS, [SKIPPED, RUNNING], WAIT),
    case(Rule.ONE_SUCCESS, [FAILED, SKIPPED], FAIL_UPSTREAM),
    case(Rule.ONE_SUCCESS, [UPSTREAM_FAILED, REMOVED], FAIL_UPSTREAM),
    # ... unless every upstream was skipped.
    case(Rule.ONE_SUCCESS, [SKIPPED, SKIPPED], SKIP),
    # one_failed: the first failed or upstream_failed decides; none at all skips.
    case(Rule.ONE_FAILED, [FAILED, RUNNING], RUN),
    case(Rule.ONE_FAILED, [UPSTREAM_FAILED, RUNNING], RUN),
    case(Rule.ONE_FAILED, [SUCCESS, RUNNING], WAIT),
    case(Rule.ONE_FAILED, [SUCCESS, SKIPPED, REMOVED], SKIP),
    # one_done: the first success or failure decides (a skip or upstream_failed does not).
    case(Rule.ONE_DONE, [SUCCESS, RUNNING], RUN),
    case(Rule.ONE_DONE, [FAILED, RUNNING], RUN),
    case(Rule.ONE_DONE, [SKIPPED, RUNNING], WAIT),
    case(Rule.ONE_DONE, [UPSTREAM_FAILED, RUNNING], WAIT),
    case(Rule.ONE_DONE, [SKIPPED, UPSTREAM_FAILED], SKIP),
    # none_failed: skips are fine; a failure decides at once.
    case(Rule.NONE_FAILED, [SUCCESS, SKIPPED], RUN),
    case(Rule.NONE_FAILED, [SKIPPED, SKIPPED], RUN),
    case(Rule.NONE_FAILED, [SUCCESS, RUNNING], WAIT),
    case(Rule.NONE_FAILED, [FAILED, RUNNING], FAIL_UPSTREAM),
    case(Rule.NONE_FAILED, [UPSTREAM_FAILED, SUCCESS], FAIL_UPSTREAM),
    # none_failed_min_one_success: as none_failed, but every upstream skipped skips.
    case(Rule.NONE_FAILED_MIN_ONE_SUCCESS, [SUCCESS, SKIPPED], RUN),
    case(Rule.NONE_FAILED_MIN_ONE_SUCCESS, [SUCCESS, RUNNING], WAIT),
    case(Rule.NONE_FAILED_MIN_ONE_SUCCESS, [SKIPPED, RUNNING], WAIT),
    case(Rule.NONE_FAILED_MIN_ONE_SUCCESS, [SKIPPED, SKIPPED], SKIP),
    case(Rule.NONE_FAILED_MIN_ONE_SUCCESS, [FAILED, RUNNING], FAIL_UPSTREAM),
    case(Rule.NONE_FAILED_MIN_ONE_SUCCESS, [UPSTREAM_FAILED, SUCCESS], FAIL_UPSTREAM),
    # none_skipped: failures are fine; a skip decides at once.
    case(Rule.NONE_SKIPPED, [SUCCESS, FAILED], RUN),
    case(Rule.NONE_SKIPPED, [SUCCESS, UPSTREAM_FAILED], RUN),
    case(Rule.NONE_SKIPPED, [SUCCESS, RUNNING], WAIT),
    case(Rule.NONE_SKIPPED, [SKIPPED, RUNNING], SKIP),
    case(Rule.NONE_SKIPPED, [SUCCESS, SKIPPED], SKIP),
    # always: runs at once, whatever the upstreams do.
    case(Rule.ALWAYS, [RUNNING, State.NONE], RUN),
    case(Rule.ALWAYS, [FAILED, SKIPPED], RUN),
]


@pytest.mark.parametrize(("rule", "upstream", "expected"), TABLE, ids=[row_id(r) for r in TABLE])
def test_trigger_rule_decides_from_upstream_states(
    rule: TriggerRule, upstream: tuple[TaskState, ...], expected: Decision
) -> None:
    assert evaluate(rule, UpstreamCounts.of(upstream)) is expected


def test_the_table_covers_every_trigger_rule() -> None:
    covered = {rule for rule, _, _ in TABLE}
    assert covered == set(TriggerRule)


@pytest.mark.parametrize("rule", list(TriggerRule), ids=lambda rule: rule.value)
def test_a_task_without_upstream_runs_at_once(rule: TriggerRule) -> None:
    assert evaluate(rule, UpstreamCounts.of([])) is RUN


UNFINISHED = [
    State.NONE,
    State.SCHEDULED,
    State.QUEUED,
    State.RUNNING,
    State.UP_FOR_RETRY,
    State.DEFERRED,
]


@pytest.mark.parametrize("state", UNFINISHED, ids=lambda state: state.value)
def test_an_upstream_that_has_not_finished_keeps_all_done_waiting(state: TaskState) -> None:
    assert evaluate(Rule.ALL_DONE, UpstreamCounts.of([SUCCESS, state])) is WAIT


def test_parse_returns_the_rule_of_that_name() -> None:
    assert parse("none_failed_min_one_success") is Rule.NONE_FAILED_MIN_ONE_SUCCESS


def test_parse_of_an_unknown_rule_raises_value_error_listing_the_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown trigger rule 'all_sucess'") as raised:
        parse("all_sucess")
    for rule in TriggerRule:
        assert rule.value in str(raised.value)
