"""``gnomon dags ...``: list the DAGs of the folder, their import errors, show and test one."""

from __future__ import annotations

from typing import Any

import click

from gnomon.cli import graphs, output, testing
from gnomon.cli.common import CliError, Common, common_options
from gnomon.dagfiles import bag
from gnomon.dagfiles.exceptions import DagFilesError
from gnomon.dagfiles.parser import ParsedDag


@click.group()
def dags() -> None:
    """List, inspect and test the DAGs of the DAGs folder."""


def parse_folder(common: Common) -> bag.FolderParseResult:
    try:
        return bag.parse_folder(common.dags_folder, common.settings.dag_file_timeout)
    except DagFilesError as exc:
        raise CliError(str(exc)) from None


def dag_summary(parsed: ParsedDag) -> dict[str, Any]:
    """One DAG of ``gnomon dags list``."""
    serialized = parsed.serialized
    schedule = None if serialized["schedule"]["kind"] == "none" else serialized["schedule_summary"]
    return {
        "dag_id": parsed.dag_id,
        "file": str(parsed.file),
        "schedule": schedule,
        "tags": serialized["tags"],
        "task_count": len(serialized["tasks"]),
        "description": serialized["description"],
        "version": parsed.version_hash,
    }


@dags.command("list")
@common_options()
def list_dags(common: Common) -> None:
    """List the DAGs of the folder, sorted by id (files that fail are only counted)."""
    result = parse_folder(common)
    if common.output == "json":
        output.echo_json([dag_summary(parsed) for parsed in result.dags.values()])
    else:
        output.echo_table(
            ["dag_id", "file", "schedule", "tags", "tasks"],
            (
                (s["dag_id"], parsed.relative_file, s["schedule"], s["tags"], s["task_count"])
                for parsed in result.dags.values()
                for s in [dag_summary(parsed)]
            ),
        )
    if result.import_errors:
        output.warn(
            f"{len(result.import_errors)} file(s) failed to import; "
            "see `gnomon dags list-import-errors`"
        )


@dags.command("list-import-errors")
@common_options()
def list_import_errors(common: Common) -> None:
    """List the files of the folder that failed to import, and why."""
    result = parse_folder(common)
    if common.output == "json":
        output.echo_json([{"file": str(e.file), "error": e.error} for e in result.import_errors])
    else:
        output.echo_table(
            ["file", "line", "error"],
            ((e.relative_file, e.line, e.error) for e in result.import_errors),
        )


@dags.command("show")
@click.argument("dag_id")
@common_options(formats=("table", "json", "dot"))
def show(common: Common, dag_id: str) -> None:
    """Show a DAG: its tasks (table), its serialized form (json) or its graph (dot)."""
    result = parse_folder(common)
    parsed = result.dags.get(dag_id)
    if parsed is None:
        raise CliError(bag.not_found_message(result, dag_id))
    serialized = parsed.serialized
    if common.output == "json":
        output.echo_json(serialized)
    elif common.output == "dot":
        click.echo(graphs.to_dot(serialized), nl=False)
    else:
        summary = dag_summary(parsed)
        click.echo(f"DAG:         {dag_id}")
        click.echo(f"File:        {parsed.relative_file}")
        click.echo(f"Schedule:    {serialized['schedule_description']}")
        if serialized["description"]:
            click.echo(f"Description: {serialized['description']}")
        if summary["tags"]:
            click.echo(f"Tags:        {', '.join(summary['tags'])}")
        click.echo(f"Version:     {parsed.version_hash[:12]}")
        output.echo_table(
            ["task", "operator", "upstream", "trigger rule", "group"],
            graphs.task_rows(serialized),
        )


@dags.command("test")
@click.argument("dag_id")
@testing.run_options
@common_options()
def test(common: Common, dag_id: str, conf: str | None, logical_date: str | None) -> None:
    """Run the whole DAG once, here, with the real semantics; exit 0 iff it succeeded."""
    testing.run_and_report(common, dag_id, conf, logical_date)
