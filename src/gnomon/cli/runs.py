"""``gnomon runs list|show|wait``: the DAG runs in the database."""

from __future__ import annotations

import time

import click
from sqlalchemy.orm import Session, sessionmaker

from gnomon.cli import database, output
from gnomon.cli.common import CliError, load_settings, output_option
from gnomon.scheduler.reports import run_report
from gnomon.semantics import states
from gnomon.semantics.states import RunState
from gnomon.store import models, runs


@click.group("runs")
def runs_group() -> None:
    """List, show and wait for DAG runs."""


def get_run(session: Session, dag_id: str, run_id: str) -> runs.Run:
    run = runs.get(session, dag_id, run_id)
    if run is None:
        if session.get(models.Dag, dag_id) is None:
            raise CliError(f"DAG {dag_id!r} is not known")
        raise CliError(f"DAG {dag_id!r} has no run {run_id!r} (see `gnomon runs list {dag_id}`)")
    return run


@runs_group.command("list")
@click.argument("dag_id")
@click.option(
    "--state", type=click.Choice([s.value for s in RunState]), default=None, help="Only these."
)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@output_option()
def list_runs(dag_id: str, state: str | None, limit: int, output_format: str) -> None:
    """List the runs of DAG_ID, newest first."""
    with database.transaction(load_settings(), read_only=True) as session:
        if session.get(models.Dag, dag_id) is None:
            raise CliError(f"DAG {dag_id!r} is not known")
        found = runs.of_dag(
            session, dag_id, states=[RunState(state)] if state else None, limit=limit
        )
    if output_format == "json":
        output.echo_json([r.to_json() for r in found])
        return
    output.echo_table(
        ["run_id", "type", "state", "logical_date", "start", "end"],
        (
            (r.run_id, r.run_type.value, r.state.value, r.logical_date, r.start_date, r.end_date)
            for r in found
        ),
    )


@runs_group.command("show")
@click.argument("dag_id")
@click.argument("run_id")
@output_option()
def show(dag_id: str, run_id: str, output_format: str) -> None:
    """Show one run: its task instances and their tries."""
    with database.transaction(load_settings(), read_only=True) as session:
        report = run_report(session, get_run(session, dag_id, run_id))
    if output_format == "json":
        output.echo_json(report)
        return
    click.echo(f"Run {report['run_id']} of {dag_id}: {report['state']}")
    output.echo_table(
        ["task", "map", "state", "tries", "start", "end", "note"],
        (
            (
                t["task_id"],
                t["map_index"] if t["map_index"] >= 0 else "",
                t["state"],
                t["try_number"],
                t["start_date"],
                t["end_date"],
                t["note"],
            )
            for t in report["tasks"]
        ),
    )


@runs_group.command("wait")
@click.argument("dag_id")
@click.argument("run_id")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, help="Give up after S s.")
def wait(dag_id: str, run_id: str, timeout: float | None) -> None:
    """Wait for a run to finish; exit 0 iff it succeeded (1 if it failed or time ran out)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with database.reader(load_settings()) as sessions:
        state = _state(sessions, dag_id, run_id)
        while state not in states.FINISHED_RUN:
            if deadline is not None and time.monotonic() >= deadline:
                raise CliError(
                    f"run {run_id!r} of {dag_id!r} is still {state.value} after {timeout:g}s"
                )
            time.sleep(0.1)
            state = _state(sessions, dag_id, run_id)
    click.echo(state.value)
    if state is not RunState.SUCCESS:
        raise CliError(f"run {run_id!r} of {dag_id!r} failed")


def _state(sessions: sessionmaker[Session], dag_id: str, run_id: str) -> RunState:
    with sessions() as session:
        return get_run(session, dag_id, run_id).state
