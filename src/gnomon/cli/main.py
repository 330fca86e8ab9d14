"""The ``gnomon`` command (also ``python -m gnomon.cli.main``).

Subcommands are imported when they are run (or listed by ``--help``), not all at start: a
worker then never imports the API's, the scheduler's or the database's modules. That halves
a worker's memory, and every try it forks copies less of it.
"""

from __future__ import annotations

import importlib

import click

from gnomon.cli import output
from gnomon.cli.common import output_option
from gnomon.runtime import lifeline
from gnomon.version import __version__

#: Command name -> the modules to import, then ``module:attribute`` of the command.
_COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "api": ((), "gnomon.cli.web:api_command"),
    "connections": ((), "gnomon.cli.connections:connections"),
    "dag-processor": ((), "gnomon.cli.dag_processor:dag_processor"),
    # ``dags trigger|pause|unpause|backfill`` register themselves on the ``dags`` group.
    "dags": (("gnomon.cli.dag_control",), "gnomon.cli.dags:dags"),
    "db": ((), "gnomon.cli.db:db"),
    "pools": ((), "gnomon.cli.pools:pools"),
    "runs": ((), "gnomon.cli.runs:runs_group"),
    "scheduler": ((), "gnomon.cli.services:scheduler_command"),
    "standalone": ((), "gnomon.cli.services:standalone"),
    "tasks": ((), "gnomon.cli.tasks:tasks"),
    "tokens": ((), "gnomon.cli.users:tokens_group"),
    "users": ((), "gnomon.cli.users:users"),
    "variables": ((), "gnomon.cli.variables:variables"),
    "worker": ((), "gnomon.cli.worker:worker_command"),
}


class LazyGroup(click.Group):
    """A group whose commands in ``_COMMANDS`` are imported when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in _COMMANDS:
            return found
        first, target = _COMMANDS[cmd_name]
        for module in first:
            importlib.import_module(module)
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command) and command.name == cmd_name, target
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    lifeline.from_environment()
    cli.main(prog_name="gnomon")


if __name__ == "__main__":
    main()
