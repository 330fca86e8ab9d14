"""The ``gnomon`` command (also ``python -m gnomon.cli.main``)."""

from __future__ import annotations

import click

from gnomon.cli import (
    connections,
    dag_control,
    dag_processor,
    dags,
    db,
    output,
    pools,
    runs,
    services,
    tasks,
    users,
    variables,
    web,
    worker,
)
from gnomon.cli.common import output_option
from gnomon.runtime import lifeline
from gnomon.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Gnomon: a workflow orchestrator for data pipelines."""


@cli.command()
@output_option()
def version(output_format: str) -> None:
    """Print Gnomon's version."""
    if output_format == "json":
        output.echo_json({"version": __version__})
    else:
        click.echo(__version__)


cli.add_command(dag_processor.dag_processor)
cli.add_command(dags.dags)
cli.add_command(db.db)
cli.add_command(tasks.tasks)
cli.add_command(runs.runs_group)
cli.add_command(services.scheduler_command)
cli.add_command(services.standalone)
cli.add_command(pools.pools)
cli.add_command(variables.variables)
cli.add_command(connections.connections)
cli.add_command(users.users)
cli.add_command(users.tokens_group)
cli.add_command(web.api_command)
cli.add_command(worker.worker_command)

# ``dags trigger|pause|unpause|backfill`` register themselves on the ``dags`` group.
assert dag_control.trigger is not None


def main() -> None:
    lifeline.from_environment()
    cli.main(prog_name="gnomon")


if __name__ == "__main__":
    main()
