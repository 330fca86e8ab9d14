"""``gnomon tasks ...``: run one task of a DAG."""

from __future__ import annotations

import click

from gnomon.cli import testing
from gnomon.cli.common import Common, common_options


@click.group()
def tasks() -> None:
    """Run the tasks of a DAG."""


@tasks.command("test")
@click.argument("dag_id")
@click.argument("task_id")
@testing.run_options
@common_options()
def test(
    common: Common, dag_id: str, task_id: str, conf: str | None, logical_date: str | None
) -> None:
    """Run one task alone (its upstream tasks do not run); exit 0 iff it succeeded."""
    testing.run_and_report(common, dag_id, conf, logical_date, task_id)
