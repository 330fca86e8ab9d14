"""Calling user functions with the context values their signature names."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any

import pytest

from gnomon import DAG
from gnomon.operators.python import PythonOperator


def test_a_python_operator_reads_its_callables_signature_when_built_not_in_each_try(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A try runs in a fork of the warm worker that built the operator: what it finds computed
    # there costs it nothing.
    calls: list[object] = []
    real = inspect.signature

    def counting(func: Any) -> inspect.Signature:
        calls.append(func)
        return real(func)

    monkeypatch.setattr(inspect, "signature", counting)

    def work(ds: str) -> str:
        return ds

    with DAG("signatures", schedule=None, start_date=datetime(2026, 1, 1)):
        operator = PythonOperator(task_id="work", python_callable=work)
    assert calls == [work]
    assert operator.execute({"ds": "2026-01-01"}) == "2026-01-01"
    assert operator.execute({"ds": "2026-01-02"}) == "2026-01-02"
    assert calls == [work]
