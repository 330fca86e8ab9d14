"""``gnomon dag-processor``: keep the stored DAGs in step with the DAGs folder."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

import click

from gnomon.cli import database, logging_setup, monitoring, output
from gnomon.cli.common import CliError, Common, common_options
from gnomon.dag_processor import processor, stopping
from gnomon.dagfiles.exceptions import DagFilesError
from gnomon.store import db as store_db
from gnomon.store import exceptions

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@click.command("dag-processor")
@click.option("--once", is_flag=True, help="Sync once, print what changed, and exit.")
@monitoring.metrics_port_option()
@common_options()
def dag_processor(common: Common, once: bool, metrics_port: int | None) -> None:
    """Keep the stored DAGs, versions and import errors in step with the DAGs folder.

    Runs until SIGTERM or Ctrl-C, reparsing new and changed files every
    GNOMON_DAG_DIR_LIST_INTERVAL seconds. With --once, syncs once, prints what changed
    (--output applies to it) and exits 0, also when files fail to import (they are listed).
    """
    with database.engine(common.settings) as engine:
        watcher = processor.DagProcessor.from_settings(
            common.settings, store_db.session_factory(engine), common.dags_folder
        )
        try:
            if once:
                _print(watcher.run_once(), common)
            else:
                logging_setup.configure(common.settings)
                monitoring.serve_metrics(common.settings, metrics_port)
                _run_until_stopped(watcher)
        except (exceptions.StoreError, DagFilesError) as exc:
            raise CliError(str(exc)) from None


def _run_until_stopped(watcher: processor.DagProcessor) -> None:
    with stopping.StopFlag() as stop:

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous: dict[int, Any] = {
            signum: signal.signal(signum, request_stop) for signum in _STOP_SIGNALS
        }
        try:
            watcher.run(stop)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _print(report: processor.ProcessorReport, common: Common) -> None:
    if common.output == "json":
        output.echo_json(
            {
                "dags_folder": str(common.dags_folder),
                "files": report.files,
                "dags": list(report.dags),
                "created": list(report.created),
                "new_versions": list(report.new_versions),
                "deactivated": list(report.deactivated),
                "import_errors": [
                    {"file": str(error.file), "error": error.error}
                    for error in report.import_errors
                ],
            }
        )
        return
    click.echo(
        f"DAGs folder:   {common.dags_folder} ({report.files} files, {len(report.dags)} DAGs)"
    )
    for label, ids in (
        ("Created", report.created),
        ("New versions", report.new_versions),
        ("Deactivated", report.deactivated),
    ):
        click.echo(f"{label + ':':<15}{', '.join(ids) or '-'}")
    click.echo(f"{'Import errors:':<15}{len(report.import_errors)}")
    for error in report.import_errors:
        click.echo(f"  {error.relative_file}: {error.summary}")
