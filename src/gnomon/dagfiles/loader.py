"""Import one DAG file in this process and collect its validated DAGs.

This runs user code: the control plane calls it only in a child process (``parser``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gnomon.authoring import contexts
from gnomon.authoring.dag import DAG
from gnomon.serialization import writer

#: Frames in Gnomon's own code below the user's last line are noise in an import error.
_GNOMON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(contexts.__file__))) + os.sep
_DAG_MODULE_PREFIX = "gnomon_dag_"


@dataclass(frozen=True, slots=True)
class LoadedDag:
    """A DAG from a file, its serialized form and its version (content hash)."""

    dag: DAG
    serialized: dict[str, Any]
    version_hash: str

    @property
    def dag_id(self) -> str:
        return self.dag.dag_id


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """What importing a DAG file gave: its DAGs, or the error that stopped it."""

    file: Path
    dags: tuple[LoadedDag, ...] = ()
    #: Traceback-style text whose last line names the exception; None if the file is fine.
    error: str | None = None
    #: The line of the file the error points at, where known.
    line: int | None = None

    def get(self, dag_id: str) -> LoadedDag | None:
        return next((d for d in self.dags if d.dag_id == dag_id), None)


#: The folders ``activate`` put on ``sys.path`` in this process (the current one last).
_activated: list[str] = []


def activate(folder: Path) -> None:
    """Make ``folder`` the one DAGs folder helper modules are imported from, in this process.

    A warm worker loads DAG versions of several bundles over its life, each with its own
    ``effects.py`` say, all imported as ``effects``: the module imported from one bundle must
    not serve another. So ``folder`` goes first on ``sys.path``, the folders activated before
    leave it, and the modules imported from them leave ``sys.modules`` (the DAGs loaded
    before keep theirs; the next import of that name reads the active folder). DAG modules
    themselves stay: their names are unique per file (``module_name``).
    """
    wanted = os.path.abspath(folder)
    for old in _activated:
        if old != wanted:
            # Modules first: a namespace package finds its portions on sys.path as it is.
            _evict(old + os.sep)
            sys.path[:] = [entry for entry in sys.path if entry != old]
    _activated[:] = [wanted]
    if sys.path[:1] != [wanted]:
        sys.path[:] = [wanted, *(entry for entry in sys.path if entry != wanted)]


def _evict(prefix: str) -> None:
    """Forget the modules imported from under ``prefix`` (namespace packages included)."""
    for name, module in list(sys.modules.items()):
        if name.startswith(_DAG_MODULE_PREFIX):
            continue
        file = getattr(module, "__file__", None)
        places = [file] if file else list(getattr(module, "__path__", None) or ())
        if places and all(str(place).startswith(prefix) for place in places):
            del sys.modules[name]


def module_name(path: Path) -> str:
    """A module name unique to the file, so that two ``etl.py`` in two folders never clash."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return f"{_DAG_MODULE_PREFIX}{digest}"


def load_file(
    path: Path, dags_folder: Path | None = None, *, source: bytes | None = None
) -> LoadedFile:
    """Import ``path`` and return its DAGs, each validated and serialized.

    ``dags_folder`` (default: the file's directory) goes on ``sys.path`` so helper modules next
    to the DAGs import. Any exception while importing or validating, and a DAG id defined
    twice in the file, become the file's ``error``: nothing is raised. ``source`` replaces the
    file's current content (a worker running a stored DAG version).
    """
    path = Path(os.path.abspath(path))
    folder = str(Path(os.path.abspath(dags_folder)) if dags_folder else path.parent)
    if folder not in sys.path:
        # First, as ``activate`` puts it on workers (and as Python puts a script's folder):
        # a helper named like an installed module is the helper, when parsed and when run.
        sys.path.insert(0, folder)
    collected = contexts.start_collecting()
    try:
        _import(path, source)
    except (Exception, SystemExit) as exc:
        message, line = format_error(exc, path)
        return LoadedFile(path, error=message, line=line)
    finally:
        contexts.stop_collecting()
    return _validated(path, collected)


def _import(path: Path, source: bytes | None = None) -> None:
    # Compile the source ourselves: no .pyc is read or written, so an edit is never hidden by
    # a stale cache (same size, same second), and the loader's __future__ flags do not leak.
    name = module_name(path)
    if source is None:
        source = path.read_bytes()
    code = compile(source, str(path), "exec", dont_inherit=True)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    module.__spec__ = importlib.util.spec_from_file_location(name, path)
    sys.modules[name] = module
    try:
        # The caller's warning filters (pytest's "error", say) must not decide whether a file
        # imports: warnings are shown, never raised.
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise


def _validated(path: Path, collected: list[DAG]) -> LoadedFile:
    dags: list[LoadedDag] = []
    seen: set[str] = set()
    for dag in collected:
        if dag.dag_id in seen:
            return LoadedFile(
                path,
                error=f"DagDefinitionError: DAG {dag.dag_id!r} is defined more than once in {path}",
            )
        seen.add(dag.dag_id)
        try:
            serialized = writer.serialize_dag(dag)
        except Exception as exc:
            message, line = format_error(exc, path)
            return LoadedFile(path, error=message, line=line)
        dags.append(LoadedDag(dag, serialized, writer.content_hash(serialized)))
    return LoadedFile(path, dags=tuple(dags))


def format_error(exc: BaseException, path: Path) -> tuple[str, int | None]:
    """``exc`` as traceback text that starts at the DAG file, and the file's line it points at.

    Frames of the machinery that imported the file, and of Gnomon's own code under the
    file's last frame, are left out; an error found after the import (a cycle, say) is shown
    as its last line only.
    """
    filename = str(path)
    summary = traceback.TracebackException.from_exception(exc)
    _trim(summary, filename, set())
    line: int | None = None
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        line = exc.lineno
    else:
        in_file = [frame.lineno for frame in summary.stack if frame.filename == filename]
        line = in_file[-1] if in_file else None
    return "".join(summary.format()).rstrip("\n"), line


def _trim(summary: traceback.TracebackException, filename: str, seen: set[int]) -> None:
    if id(summary) in seen:
        return
    seen.add(id(summary))
    frames = list(summary.stack)
    in_file = [i for i, f in enumerate(frames) if f.filename == filename]
    if not in_file:
        frames = []
    else:
        frames = frames[in_file[0] :]
        last = in_file[-1] - in_file[0]
        if all(f.filename.startswith(_GNOMON_DIR) for f in frames[last + 1 :]):
            frames = frames[: last + 1]
    summary.stack = traceback.StackSummary.from_list(frames)
    for chained in (summary.__cause__, summary.__context__):
        if chained is not None:
            _trim(chained, filename, seen)
