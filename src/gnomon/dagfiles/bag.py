"""Parse a whole DAGs folder: its DAGs by id, and the files that failed to import."""

from __future__ import annotations

import difflib
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from gnomon.dagfiles import discovery, parser
from gnomon.dagfiles.exceptions import DagNotFoundError
from gnomon.dagfiles.parser import FileParseResult, ParsedDag


@dataclass(frozen=True, slots=True)
class ImportErrorInfo:
    """A file of the folder whose DAGs could not be (all) loaded, and why."""

    file: Path
    #: ``file`` relative to the DAGs folder, for display.
    relative_file: str
    error: str
    line: int | None = None
    #: DAG ids the file defines that were dropped because another file defines them too.
    dag_ids: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """The error's last line (the exception), for one-line listings."""
        lines = self.error.strip().splitlines()
        return lines[-1] if lines else ""


@dataclass(frozen=True, slots=True)
class FolderParseResult:
    """Every DAG of a folder (by id, sorted) and every file that failed (sorted by path)."""

    folder: Path
    dags: dict[str, ParsedDag]
    import_errors: list[ImportErrorInfo]
    files: list[FileParseResult]


def parse_folder(folder: Path, timeout: float, concurrency: int | None = None) -> FolderParseResult:
    """Discover and parse every DAG file of ``folder``, ``concurrency`` files at a time.

    A DAG id defined in two files is an import error for both, and neither copy is kept; a
    broken file never hides the DAGs of the others.
    """
    folder = Path(os.path.abspath(folder))
    paths = discovery.discover_files(folder)
    files = parser.parse_files(paths, timeout, root_of(folder), concurrency)
    return folder_result(folder, files)


def root_of(folder: Path) -> Path:
    """What the files of ``folder`` are shown relative to: the folder, or a file's directory."""
    folder = Path(os.path.abspath(folder))
    return folder if folder.is_dir() else folder.parent


def folder_result(folder: Path, files: list[FileParseResult]) -> FolderParseResult:
    """The parse of ``folder`` made of the results of each of its files (in path order).

    A DAG id defined in two files is an import error for both, and neither copy is kept.
    """
    owners: dict[str, list[FileParseResult]] = defaultdict(list)
    for result in files:
        for parsed in result.dags:
            owners[parsed.dag_id].append(result)
    clashes: dict[Path, list[str]] = defaultdict(list)
    for dag_id, defined_in in owners.items():
        if len(defined_in) > 1:
            for result in defined_in:
                clashes[result.file].append(dag_id)
    dags = {
        parsed.dag_id: parsed
        for result in files
        for parsed in result.dags
        if len(owners[parsed.dag_id]) == 1
    }
    errors = [_import_error(result, clashes.get(result.file, []), owners) for result in files]
    return FolderParseResult(
        folder=Path(os.path.abspath(folder)),
        dags=dict(sorted(dags.items())),
        import_errors=[e for e in errors if e is not None],
        files=files,
    )


def _import_error(
    result: FileParseResult,
    clashing_ids: list[str],
    owners: dict[str, list[FileParseResult]],
) -> ImportErrorInfo | None:
    if result.error is not None:
        return ImportErrorInfo(result.file, result.relative_file, result.error, result.line)
    if not clashing_ids:
        return None
    messages = []
    for dag_id in clashing_ids:
        others = ", ".join(str(r.file) for r in owners[dag_id] if r is not result)
        messages.append(f"DAG {dag_id!r} is also defined in {others}")
    return ImportErrorInfo(
        result.file, result.relative_file, "\n".join(messages), dag_ids=tuple(clashing_ids)
    )


def find_dag_file(folder: Path, dag_id: str, timeout: float) -> ParsedDag:
    """The parsed DAG ``dag_id`` of ``folder`` (its ``.file`` defines it).

    Raises DagNotFoundError saying why: defined in two files, close matches, and the files
    that failed to import (the DAG may be in one of them).
    """
    result = parse_folder(folder, timeout)
    if dag_id in result.dags:
        return result.dags[dag_id]
    raise DagNotFoundError(not_found_message(result, dag_id))


def not_found_message(result: FolderParseResult, dag_id: str) -> str:
    """Why ``dag_id`` is not among the DAGs of ``result``, with what may help find it."""
    clashing = [e for e in result.import_errors if dag_id in e.dag_ids]
    if clashing:
        files = ", ".join(str(e.file) for e in clashing)
        return f"DAG {dag_id!r} is defined in more than one file: {files}"
    message = f"DAG {dag_id!r} not found in {result.folder}"
    close = difflib.get_close_matches(dag_id, list(result.dags), n=3)
    if close:
        message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    if result.import_errors:
        message += (
            f"\n{len(result.import_errors)} file(s) failed to import and may define it "
            "(see `gnomon dags list-import-errors`):"
        )
        for error in result.import_errors:
            message += f"\n  {error.relative_file}: {error.summary}"
    return message
