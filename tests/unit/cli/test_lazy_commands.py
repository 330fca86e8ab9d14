"""``gnomon``'s subcommands are imported when run: a worker does not carry the API's, the
scheduler's or the database's modules (nor copy them into every try it forks)."""

from __future__ import annotations

import json
import subprocess
import sys

import click

from gnomon.cli.main import cli

HEAVY = ("sqlalchemy", "psycopg", "fastapi", "uvicorn")


def _imported_after(command: str) -> list[str]:
    script = (
        "import json, sys, click\n"
        "from gnomon.cli.main import cli\n"
        f"cli.get_command(click.Context(cli), {command!r})\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return list(json.loads(result.stdout))


def test_the_worker_command_imports_no_database_or_web_modules() -> None:
    assert _imported_after("worker") == []


def test_the_api_command_imports_what_it_serves_with() -> None:
    # The check above can fail: the API's command does bring these.
    assert {"sqlalchemy", "fastapi"} <= set(_imported_after("api"))


def test_every_listed_command_loads_under_its_name() -> None:
    context = click.Context(cli)
    names = cli.list_commands(context)
    assert {"api", "dags", "scheduler", "standalone", "worker", "version"} <= set(names)
    for name in names:
        command = cli.get_command(context, name)
        assert command is not None and command.name == name
    dags = cli.get_command(context, "dags")
    assert isinstance(dags, click.Group)
    assert {"trigger", "pause", "unpause", "backfill"} <= set(dags.list_commands(context))
