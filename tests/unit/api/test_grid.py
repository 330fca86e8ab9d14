"""A mapped task's grid cell: one state for all its map indexes."""

from __future__ import annotations

from gnomon.api.routes.grid import summarize


def test_any_failed_index_makes_the_cell_failed() -> None:
    assert summarize(["success", "running", "upstream_failed"]) == "failed"


def test_without_failures_the_most_active_state_shows() -> None:
    assert summarize(["success", "scheduled", "queued", "up_for_retry"]) == "queued"


def test_finished_indexes_show_success_or_skipped_if_all_were_skipped() -> None:
    assert summarize(["success", "skipped"]) == "success"
    assert summarize(["skipped", "skipped"]) == "skipped"
