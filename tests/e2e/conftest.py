"""A failing end-to-end test's report carries the log of the standalone it ran against."""

from __future__ import annotations

from collections.abc import Generator

import pytest
from support.standalone import STANDALONE


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    runner = item.stash.get(STANDALONE, None)
    if report.failed and runner is not None:
        report.sections.append(("standalone log", runner.logs()))
    return report
