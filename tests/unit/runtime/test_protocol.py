"""The plain-JSON forms of a try's request and outcome, as they cross processes and hosts."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from gnomon.runtime.protocol import TryOutcome, TryRequest
from gnomon.semantics.states import TaskState


def _request(**changes: Any) -> TryRequest:
    values: dict[str, Any] = dict(
        dag_id="etl",
        task_id="load",
        map_index=3,
        try_number=2,
        run_id="manual__1",
        logical_date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        data_interval_start=datetime(2026, 1, 1, tzinfo=UTC),
        data_interval_end=datetime(2026, 1, 2, tzinfo=UTC),
        conf={"rows": [1, 2]},
        params={"table": "orders"},
        run_type="scheduled",
        max_tries=4,
    )
    return TryRequest(**{**values, **changes})


def test_a_request_goes_through_json_whole_and_unchanged() -> None:
    request = _request()
    data = request.to_json()
    assert set(data) == {f.name for f in dataclasses.fields(TryRequest)}
    assert TryRequest.from_json(json.loads(json.dumps(data))) == request


def test_a_requests_json_is_its_own_copy_of_conf_and_params() -> None:
    request = _request(conf={"a": 1})
    request.to_json()["conf"]["a"] = 2
    assert request.conf == {"a": 1}


def test_an_outcome_goes_through_json_whole_and_unchanged() -> None:
    outcome = TryOutcome(
        TaskState.FAILED,
        "exception",
        retryable=False,
        error="boom",
        xcoms={"k": 1},
        xcom_lengths={"k": None},
        skip=("b",),
    )
    assert TryOutcome.from_json(json.loads(json.dumps(outcome.to_json()))) == outcome
