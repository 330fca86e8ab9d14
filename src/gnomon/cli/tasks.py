"""``gnomon tasks ...``: test one task, clear task instances, read a try's log."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session, sessionmaker

from gnomon.cli import database, output, testing
from gnomon.cli import runs as runs_cli
from gnomon.cli.common import (
    CliError,
    CliUsageError,
    Common,
    common_options,
    load_settings,
    output_option,
)
from gnomon.events import wakeups
from gnomon.runtime import logstore
from gnomon.scheduler import clearing
from gnomon.scheduler.exceptions import SchedulerError
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics import states
from gnomon.store import task_instances, tries


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


@tasks.command("clear")
@click.argument("dag_id")
@click.argument("run_id")
@click.option("--task-id", "task_ids", multiple=True, help="Only this task (repeatable).")
@click.option("--downstream", is_flag=True, help="Also every task downstream of those.")
@click.option("--only-failed", is_flag=True, help="Only failed and upstream_failed instances.")
@output_option()
def clear(
    dag_id: str,
    run_id: str,
    task_ids: tuple[str, ...],
    downstream: bool,
    only_failed: bool,
    output_format: str,
) -> None:
    """Reset task instances of a run so that they run again (with all their retries)."""
    settings = load_settings()
    with database.transaction(settings) as session:
        run = runs_cli.get_run(session, dag_id, run_id)
        try:
            cleared = clearing.clear(
                session,
                VersionCache(),
                run,
                task_ids=task_ids,
                downstream=downstream,
                only_failed=only_failed,
                now=datetime.now(UTC),
            )
        except SchedulerError as exc:
            raise CliUsageError(str(exc)) from None
        wakeups.announce(session)  # schedulers on other machines, at the commit
    wakeups.notify(settings.home)
    if output_format == "json":
        output.echo_json([{"task_id": k.task_id, "map_index": k.map_index} for k in cleared])
        return
    click.echo(f"Cleared {len(cleared)} task instance(s) of {run_id}.")
    for key in cleared:
        click.echo(f"  {key.task_id}" + (f"[{key.map_index}]" if key.map_index >= 0 else ""))


@tasks.command("logs")
@click.argument("dag_id")
@click.argument("run_id")
@click.argument("task_id")
@click.option("--map-index", type=int, default=-1, show_default=True)
@click.option("--try", "try_number", type=click.IntRange(min=1), default=None, help="[latest]")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the try ends.")
def logs(
    dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int | None, follow: bool
) -> None:
    """Print the log of one try of a task instance (the latest try by default), wherever it
    is kept: the logs folder, a worker's log server while the try runs, the remote log store."""
    settings = load_settings()
    with database.reader(settings) as sessions:
        attempt = _find_try(sessions, dag_id, run_id, task_id, map_index, try_number)
        if attempt.log_location is None:
            raise CliError(f"try {attempt.try_number} of {task_id} has no log")
        position = 0
        while True:
            # The location changes when the try ends and its log is uploaded: read it anew.
            location = attempt.log_location
            final = attempt.state not in states.HOLDS_SLOT
            position = _print_from(location, position, final, settings.log_storage_options)
            if final or not follow:
                break
            time.sleep(0.2)
            attempt = _find_try(sessions, dag_id, run_id, task_id, map_index, attempt.try_number)
    is_file = location is not None and "://" not in location
    if is_file and not Path(str(location)).exists() and attempt.state not in states.HOLDS_SLOT:
        raise CliError(f"the log file {location} of try {attempt.try_number} does not exist")


def _print_from(
    location: str | None, position: int, final: bool, storage_options: Mapping[str, Any]
) -> int:
    """Print the log at ``location`` from byte ``position`` to its end; the end's offset."""
    if location is None:
        return position
    while True:
        try:
            chunk = logstore.read(location, position, final=final, storage_options=storage_options)
        except logstore.LogUnavailable as exc:
            raise CliError(str(exc)) from None
        if chunk.content:
            sys.stdout.write(chunk.content)
            sys.stdout.flush()
        position = chunk.next_offset
        if chunk.at_end or not chunk.content:
            return position


def _find_try(
    sessions: sessionmaker[Session],
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    try_number: int | None,
) -> tries.Try:
    with sessions() as session:
        run = runs_cli.get_run(session, dag_id, run_id)
        ti = task_instances.get(session, run.id, task_id, map_index)
        if ti is None:
            where = f"[{map_index}]" if map_index >= 0 else ""
            raise CliError(f"run {run_id!r} of {dag_id!r} has no task instance {task_id}{where}")
        number = try_number or ti.try_number
        attempt = tries.of_instance(session, ti.id, number) if number else None
        if attempt is None:
            raise CliError(
                f"{task_id} has no try {number} in run {run_id!r} (it has {ti.try_number})"
            )
        return attempt
