"""What every command shares: ``--dags-folder``/``--output`` (one decorator), and errors."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from gnomon import settings as settings_module

F = TypeVar("F", bound=Callable[..., Any])

#: ``context_settings`` of commands whose arguments may be negative numbers (``-1``), which
#: click would otherwise reject as unknown options.
NEGATIVE_ARGUMENTS: dict[str, Any] = {"ignore_unknown_options": True}


class CliError(click.ClickException):
    """A command failed: printed as ``Error: <message>`` on stderr, exit code 1."""

    exit_code = 1


class CliUsageError(CliError):
    """Bad input (settings, option values): exit code 2, like click's own usage errors."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Common:
    """The shared options of a command, resolved against the settings."""

    settings: settings_module.Settings
    dags_folder: Path
    output: str


def load_settings() -> settings_module.Settings:
    """The settings from the environment and gnomon.toml; bad values exit 2."""
    try:
        return settings_module.load_settings()
    except settings_module.SettingsError as exc:
        raise CliUsageError(str(exc)) from None


def output_option(formats: Sequence[str] = ("table", "json")) -> Callable[[F], F]:
    """``--output`` / ``-o``: how results are printed (default ``table``)."""
    return click.option(
        "--output",
        "-o",
        "output_format",
        type=click.Choice(list(formats)),
        default="table",
        show_default=True,
        help="How to print the result.",
    )


def common_options(formats: Sequence[str] = ("table", "json")) -> Callable[[F], F]:
    """Add ``--dags-folder`` and ``--output``; the command receives ``common: Common`` first."""

    def decorator(func: F) -> F:
        @click.option(
            "--dags-folder",
            type=click.Path(path_type=Path, file_okay=True, dir_okay=True),
            default=None,
            help="The DAGs folder [default: GNOMON_DAGS_FOLDER, or $GNOMON_HOME/dags].",
        )
        @output_option(formats)
        @functools.wraps(func)
        def wrapper(*args: Any, dags_folder: Path | None, output_format: str, **kwargs: Any) -> Any:
            settings = load_settings()
            folder = (dags_folder or settings.dags_folder).absolute()
            return func(Common(settings, folder, output_format), *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
