"""What ``gnomon dags test`` and ``gnomon tasks test`` share: options, loading, the report."""

from __future__ import annotations

import difflib
import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from gnomon.authoring.dag import DAG
from gnomon.cli import output
from gnomon.cli.common import CliError, CliUsageError, Common, F
from gnomon.dagfiles import bag, loader
from gnomon.dagfiles.exceptions import DagFilesError
from gnomon.exceptions import ParamValidationError
from gnomon.runtime import local_run, reports
from gnomon.semantics.states import RunState


def run_options(func: F) -> F:
    """``--conf JSON`` and ``--logical-date DATE``."""
    func = click.option(
        "--logical-date",
        default=None,
        help="ISO 8601 date or datetime of the run (naive = UTC) [default: now].",
    )(func)
    return click.option(
        "--conf", default=None, help="The run's conf, a JSON object: '{\"param\": 1}'."
    )(func)


def parse_conf(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        conf = json.loads(text)
    except ValueError as exc:
        raise CliUsageError(f"--conf is not a JSON object: {exc}") from None
    if not isinstance(conf, dict):
        raise CliUsageError(f"--conf is not a JSON object: got {type(conf).__name__} {text!r}")
    return conf


def parse_logical_date(text: str | None) -> datetime | None:
    """An ISO 8601 date (midnight UTC) or datetime (naive means UTC)."""
    return None if text is None else parse_date(text, "--logical-date")


def parse_date(text: str, option: str) -> datetime:
    """``text`` as an aware datetime; a bad value is a usage error naming ``option``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliUsageError(
            f"{option} {text!r} is not an ISO 8601 date or datetime "
            "(e.g. 2024-05-01 or 2024-05-01T06:00:00+02:00)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def load_dag(common: Common, dag_id: str) -> DAG:
    """Find the file defining ``dag_id`` safely (child processes), then import it here."""
    timeout = common.settings.dag_file_timeout
    try:
        parsed = bag.find_dag_file(common.dags_folder, dag_id, timeout)
    except DagFilesError as exc:
        raise CliError(str(exc)) from None
    loaded = loader.load_file(parsed.file, common.dags_folder)
    if loaded.error is not None:
        raise CliError(f"{parsed.file} failed to import:\n{loaded.error}")
    found = loaded.get(dag_id)
    if found is None:
        raise CliError(f"DAG {dag_id!r} was not defined when {parsed.file} was imported again")
    return found.dag


def run_and_report(
    common: Common,
    dag_id: str,
    conf: str | None,
    logical_date: str | None,
    task_id: str | None = None,
) -> None:
    """``dags test`` (``task_id`` None) and ``tasks test``: parse inputs, run, print, exit."""
    conf_values = parse_conf(conf)
    when = parse_logical_date(logical_date)
    dag = load_dag(common, dag_id)
    if task_id is not None and task_id not in dag.task_dict:
        close = difflib.get_close_matches(task_id, dag.task_ids, n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise CliError(f"DAG {dag_id!r} has no task {task_id!r}{hint}")
    options: dict[str, Any] = {
        "logical_date": when,
        "conf": conf_values,
        "echo": sys.stderr,
        "max_xcom_bytes": common.settings.xcom_max_bytes,
    }
    try:
        if task_id is None:
            report = local_run.test_dag(dag, **options)
        else:
            report = local_run.test_task(dag, task_id, **options)
    except ParamValidationError as exc:
        raise CliUsageError(str(exc)) from None
    print_report(report, common.output)


def print_report(report: reports.RunReport, output_format: str) -> None:
    """Print the run's report; exit 1 unless the run succeeded."""
    if output_format == "json":
        output.echo_json(report.to_json())
    else:
        click.echo(f"{report.dag_id} {report.run_id}: {report.state.value}")
        output.echo_table(
            ["task", "state", "tries", "duration (s)", "note"],
            (_report_row(row) for row in report.rows()),
        )
    if report.state != RunState.SUCCESS:
        raise click.exceptions.Exit(1)


def _report_row(row: dict[str, Any]) -> tuple[object, ...]:
    task = str(row.get("task_id"))
    map_index = row.get("map_index")
    if isinstance(map_index, int) and map_index >= 0:
        task += f"[{map_index}]"
    duration = row.get("duration")
    shown = f"{duration:.3f}" if isinstance(duration, int | float) else None
    return (task, row.get("state"), row.get("try_number"), shown, row.get("note"))
