"""The files of the DAGs folder: all of them (what a DAG version's bundle holds), and which
are DAG files: ``*.py``. ``.gnomonignore`` patterns leave files out of both.

A ``.gnomonignore`` (in the folder or any subfolder) holds one glob pattern a line, matched
against paths relative to its own directory, like a simple ``.gitignore``: a pattern without
``/`` matches a name at any depth (``*_test.py``, ``scratch``), one with ``/`` is anchored to the
file's directory (``legacy/*``, ``/tmp_*.py``), a trailing ``/`` matches directories only,
``**`` matches any number of directories and a leading ``!`` re-includes what an earlier
pattern excluded. Blank lines and ``#`` comments are skipped. Hidden entries, ``__pycache__``
and ``*.pyc`` files are always skipped.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from gnomon.dagfiles.exceptions import DagsFolderError

IGNORE_FILE_NAME = ".gnomonignore"


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """One pattern of a ``.gnomonignore`` file."""

    base: Path
    parts: tuple[str, ...]
    anchored: bool
    dir_only: bool
    negate: bool

    @classmethod
    def parse(cls, base: Path, line: str) -> IgnoreRule | None:
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            return None
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        dir_only = pattern.endswith("/")
        pattern = pattern.strip("/") if dir_only else pattern
        anchored = "/" in pattern
        parts = tuple(p for p in pattern.lstrip("/").split("/") if p)
        if not parts:
            return None
        return cls(base, parts, anchored, dir_only, negate)

    def matches(self, path: Path, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        try:
            relative = path.relative_to(self.base).parts
        except ValueError:
            return False
        if not self.anchored:
            return fnmatchcase(relative[-1], self.parts[0])
        return _match_parts(self.parts, relative)


def _match_parts(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match_parts(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return (
        bool(parts) and fnmatchcase(parts[0], pattern[0]) and _match_parts(pattern[1:], parts[1:])
    )


def read_ignore_file(path: Path) -> list[IgnoreRule]:
    """The rules of one ``.gnomonignore`` file."""
    rules = (IgnoreRule.parse(path.parent, line) for line in path.read_text().splitlines())
    return [rule for rule in rules if rule is not None]


def is_ignored(path: Path, is_dir: bool, rules: Sequence[IgnoreRule]) -> bool:
    """Whether ``rules`` (outer files first, in file order) exclude ``path``; last match wins."""
    ignored = False
    for rule in rules:
        if rule.matches(path, is_dir):
            ignored = not rule.negate
    return ignored


@dataclass(frozen=True, slots=True)
class FolderFiles:
    """What ``list_folder`` found (absolute paths, sorted)."""

    #: Every file: what a bundle of the folder holds.
    files: list[Path]
    #: The DAG files among them.
    dag_files: list[Path]


def list_folder(folder: Path) -> FolderFiles:
    """Every file under ``folder`` and its DAG files (recursive); ``folder`` may be a file."""
    folder = Path(os.path.abspath(folder))
    if folder.is_file():
        return FolderFiles([folder], [folder])
    if not folder.is_dir():
        raise DagsFolderError(f"DAGs folder {folder} does not exist or is not a directory")
    found: list[Path] = []
    _walk(folder, [], found, set())
    found.sort()
    return FolderFiles(found, [path for path in found if path.name.endswith(".py")])


def discover_files(folder: Path) -> list[Path]:
    """Every DAG file under ``folder`` (recursive, absolute, sorted); ``folder`` may be a file."""
    return list_folder(folder).dag_files


def _skipped(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__" or name.endswith(".pyc")


def _walk(directory: Path, rules: list[IgnoreRule], found: list[Path], seen: set[str]) -> None:
    real = os.path.realpath(directory)
    if real in seen:  # a symlink loop
        return
    seen.add(real)
    ignore_file = directory / IGNORE_FILE_NAME
    if ignore_file.is_file():
        rules = [*rules, *read_ignore_file(ignore_file)]
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        if len(seen) == 1:  # the DAGs folder itself; an unreadable subfolder is skipped
            raise DagsFolderError(f"cannot read DAGs folder {directory}: {exc.strerror}") from None
        return
    for entry in entries:
        if _skipped(entry.name):
            continue
        path = directory / entry.name
        if entry.is_dir():
            if not is_ignored(path, True, rules):
                _walk(path, rules, found, seen)
        elif entry.is_file() and not is_ignored(path, False, rules):
            found.append(path)
