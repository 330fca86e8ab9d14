"""A run's DAG, imported in a warm worker process from the code of the run's version.

Shared by the local executor's workers (which read the stored source from the database and
import helper modules from the DAGs folder) and remote workers (which fetch the version's
bundle, or its source, through the execution API): both keep what they loaded per version
id, since a version never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gnomon.authoring.dag import DAG
from gnomon.dagfiles import loader
from gnomon.runtime import task_runner
from gnomon.runtime.protocol import TryOutcome, TryRequest, XComSource


class DagLoadError(Exception):
    """The DAG version a workload names could not be loaded in the worker."""


@dataclass(frozen=True, slots=True)
class LoadedVersion:
    dag: DAG | None
    #: Why there is no DAG; or, with a DAG, a warning for the try's log.
    message: str | None = None
    #: The folder its helper modules come from (``loader.activate``d again in each try).
    folder: Path | None = None

    def try_target(
        self, request: TryRequest, source: XComSource, max_xcom_bytes: int
    ) -> Callable[[], TryOutcome]:
        """What the try's forked process runs: the try, or the load error (in its log and
        outcome); a load warning goes to the try's log first. The version's folder is made
        the active one first: the warm process may have loaded another bundle since, and a
        task may import a helper module only when it runs."""
        dag, message, folder = self.dag, self.message, self.folder

        def target() -> TryOutcome:
            if dag is None:
                raise DagLoadError(message)
            if folder is not None:
                loader.activate(folder)
            if message:
                print(f"warning: {message}")
            return task_runner.execute_try(dag, request, source, max_xcom_bytes=max_xcom_bytes)

        return target


def try_label(request: TryRequest) -> str:
    """``task[map index]#try number``: the try's name in the supervisor's log lines."""
    index = f"[{request.map_index}]" if request.map_index >= 0 else ""
    return f"{request.task_id}{index}#{request.try_number}"


def load(
    path: Path,
    dags_folder: Path,
    dag_id: str,
    version_hash: str,
    *,
    source: bytes | None = None,
) -> LoadedVersion:
    """Import ``path`` (or ``source`` in its place), with helper modules from ``dags_folder``
    (``loader.activate``), and find ``dag_id`` in it; warn if its version is not
    ``version_hash`` (a module the file imports changed since)."""
    loader.activate(dags_folder)
    try:
        loaded = loader.load_file(path, dags_folder, source=source)
    except OSError as exc:
        return LoadedVersion(None, f"cannot read DAG file {path}: {exc}")
    if loaded.error:
        return LoadedVersion(None, f"DAG file {path} failed to import:\n{loaded.error}")
    found = loaded.get(dag_id)
    if found is None:
        return LoadedVersion(None, f"DAG file {path} no longer defines DAG {dag_id!r}")
    warning = None
    if found.version_hash != version_hash:
        warning = (
            f"DAG {dag_id!r} loaded from {path} has version {found.version_hash[:12]}, "
            f"not the run's {version_hash[:12]} (a module it imports changed?)"
        )
    return LoadedVersion(found.dag, warning, dags_folder)
