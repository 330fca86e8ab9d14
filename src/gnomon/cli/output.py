"""Printing results: JSON to stdout, rich tables, and warnings to stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

_PIPED_WIDTH = 10_000


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def echo_table(
    columns: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None
) -> None:
    """A table on stdout; cells are shown as plain text (never as rich markup)."""
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell_text(cell)) for cell in row))
    Console(highlight=False, width=_width()).print(table)


def _width() -> int | None:
    """The terminal's width; unlimited when piped (no wrapped cells to grep through)."""
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return None
    return _PIPED_WIDTH


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)
