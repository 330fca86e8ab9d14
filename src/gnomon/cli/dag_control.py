"""``gnomon dags trigger|pause|unpause|backfill``: acting on the DAGs in the database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gnomon import settings as settings_module
from gnomon.cli import database, output, testing
from gnomon.cli.common import CliError, CliUsageError, load_settings, output_option
from gnomon.cli.dags import dags
from gnomon.events import wakeups
from gnomon.scheduler import creation
from gnomon.scheduler.exceptions import DagNotFound, SchedulerError
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import FINISHED_RUN, RunState
from gnomon.store import dags as stored_dags
from gnomon.store import jobs, runs
from gnomon.store.models import JobType


@contextmanager
def _refusals() -> Iterator[None]:
    """The scheduler's refusals as CLI errors: an unknown DAG exits 1, a bad request 2."""
    try:
        yield
    except DagNotFound as exc:
        raise CliError(str(exc)) from None
    except SchedulerError as exc:
        raise CliUsageError(str(exc)) from None


@dags.command("trigger")
@click.argument("dag_id")
@click.option("--conf", default=None, help="The run's conf, a JSON object: '{\"param\": 1}'.")
@click.option(
    "--logical-date", default=None, help="ISO 8601 date or datetime (naive = UTC) [default: now]."
)
@click.option("--run-id", default=None, help="The run's id [default: manual__<logical date>].")
@output_option()
def trigger(
    dag_id: str, conf: str | None, logical_date: str | None, run_id: str | None, output_format: str
) -> None:
    """Create a run of DAG_ID now (also when the DAG is paused); print its run id."""
    settings = load_settings()
    parsed_conf = testing.parse_conf(conf)
    at = testing.parse_logical_date(logical_date)
    with database.transaction(settings) as session, _refusals():
        run = creation.trigger(
            session,
            VersionCache(),
            dag_id,
            now=datetime.now(UTC),
            conf=parsed_conf,
            logical_date=at,
            run_id=run_id,
        )
        wakeups.announce(session)  # schedulers on other machines, at the commit
    wakeups.notify(settings.home)
    if output_format == "json":
        output.echo_json(run.to_json())
    else:
        click.echo(run.run_id)


def _set_paused(dag_id: str, paused: bool) -> None:
    settings = load_settings()
    with database.transaction(settings) as session:
        if not stored_dags.set_paused(session, dag_id, paused):
            raise CliError(f"DAG {dag_id!r} is not known (has the DAG processor parsed it?)")
        wakeups.announce(session)
    wakeups.notify(settings.home)
    click.echo(f"DAG {dag_id} is {'paused' if paused else 'unpaused'}.")


@dags.command("pause")
@click.argument("dag_id")
def pause(dag_id: str) -> None:
    """Stop creating scheduled runs of DAG_ID (triggered runs still run)."""
    _set_paused(dag_id, True)


@dags.command("unpause")
@click.argument("dag_id")
def unpause(dag_id: str) -> None:
    """Create scheduled runs of DAG_ID again."""
    _set_paused(dag_id, False)


@dags.command("backfill")
@click.argument("dag_id")
@click.option("--start", "start", required=True, help="First logical date (ISO 8601).")
@click.option("--end", "end", required=True, help="Last logical date (ISO 8601, inclusive).")
@click.option("--rerun-failed", is_flag=True, help="Run dates whose run failed again.")
@click.option("--conf", default=None, help="conf for the created runs (JSON object).")
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Follow the runs to their end."
)
def backfill(
    dag_id: str, start: str, end: str, rerun_failed: bool, conf: str | None, wait: bool
) -> None:
    """Run DAG_ID for every interval whose logical date is between --start and --end.

    The scheduler runs them (within max_active_runs); this command shows their progress and
    exits 0 iff all succeeded.
    """
    settings = load_settings()
    begin = testing.parse_date(start, "--start")
    finish = testing.parse_date(end, "--end")
    parsed_conf = testing.parse_conf(conf)
    now = datetime.now(UTC)
    with database.transaction(settings) as session:
        with _refusals():
            plan = creation.backfill(
                session,
                VersionCache(),
                dag_id,
                start=begin,
                end=finish,
                now=now,
                rerun_failed=rerun_failed,
                conf=parsed_conf,
            )
        cutoff = now - timedelta(seconds=max(settings.task_heartbeat_timeout, 30))
        schedulers = [
            j
            for t in (JobType.SCHEDULER, JobType.STANDALONE)
            for j in jobs.alive(session, t, cutoff)
        ]
        wakeups.announce(session)
    wakeups.notify(settings.home)
    click.echo(
        f"Backfill of {dag_id}: {len(plan.created)} run(s) created, {len(plan.cleared)} "
        f"cleared to run again, {len(plan.skipped)} already there.",
        err=True,
    )
    if not schedulers:
        output.warn("no scheduler is running: start `gnomon scheduler` or `gnomon standalone`")
    if not wait:
        return
    states = _follow(settings, dag_id, plan.run_ids)
    failed = sorted(rid for rid, state in states.items() if state is RunState.FAILED)
    if failed:
        raise CliError(f"{len(failed)} backfill run(s) failed: {', '.join(failed)}")


def _follow(
    settings: settings_module.Settings, dag_id: str, run_ids: list[str]
) -> dict[str, RunState]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with (
        Progress(*columns, transient=False) as progress,
        database.reader(settings) as sessions,
    ):
        bar = progress.add_task(f"backfill {dag_id}", total=len(run_ids), detail="")
        while True:
            with sessions() as session:
                found = runs.states_of(session, dag_id, run_ids)
            done = sum(1 for s in found.values() if s in FINISHED_RUN)
            counts = {s: sum(1 for v in found.values() if v is s) for s in RunState}
            detail = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
            progress.update(bar, completed=done, detail=detail)
            if done == len(run_ids):
                return found
            time.sleep(0.25)
