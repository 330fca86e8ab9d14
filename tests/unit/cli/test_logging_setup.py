"""JSON log lines: one object per record, with the fields log collectors index."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from gnomon.cli.logging_setup import JsonFormatter


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "gnomon.scheduler.loop", logging.WARNING, __file__, 1, "run %s ended", ("r1",), None
    )
    record.created = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC).timestamp()
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_line_of_json_with_time_level_logger_and_message() -> None:
    line = JsonFormatter().format(_record())
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-01-02T03:04:05.678+00:00",
        "level": "WARNING",
        "logger": "gnomon.scheduler.loop",
        "message": "run r1 ended",
    }


def test_fields_passed_with_extra_are_kept_and_anything_json_cannot_hold_becomes_text() -> None:
    entry = json.loads(JsonFormatter().format(_record(dag_id="etl", folder=Path("/dags"))))
    assert (entry["dag_id"], entry["folder"]) == ("etl", "/dags")


def test_an_exception_is_kept_as_its_traceback_text() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        record = _record()
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].endswith("ValueError: bad value")
