from __future__ import annotations

from gnomon.events.notifications import Wakeup, parse


def test_run_payloads_name_the_runs_to_plan() -> None:
    assert parse(["run:3", "run:12", "run:3"]) == Wakeup(frozenset({3, 12}), everything=False)


def test_a_star_means_everything_may_have_changed() -> None:
    assert parse(["run:3", "*"]) == Wakeup(frozenset({3}), everything=True)


def test_an_unknown_payload_is_taken_for_a_star() -> None:
    assert parse(["run:x"]).everything
    assert parse(["rerun:4"]).everything


def test_nothing_heard_is_false() -> None:
    assert not parse([])
    assert parse(["run:1"])


def test_left_payloads_name_runs_another_scheduler_had_no_slot_for() -> None:
    heard = parse(["left:5", "run:3", "left:x"])
    assert heard.runs == {3}
    assert heard.left_behind == {5}
    assert heard.everything  # left:x is unreadable
    assert parse(["left:2"]) and not parse(["left:2"]).everything


def test_retry_payloads_name_runs_whose_try_failed() -> None:
    heard = parse(["retry:4", "run:6"])
    assert heard.runs == {4, 6}
    assert heard.failed and not heard.everything
    assert not parse(["run:4"]).failed
