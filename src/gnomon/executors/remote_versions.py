"""The DAG versions a remote worker's process has loaded, their code fetched through the
execution API: a version's bundle, materialised in the cache once, or (a version made
before bundles) its stored source. ``remote.TryRunner`` keeps one; a kept try process,
forked from it, loads a version it was forked without from where the runner put the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gnomon.dagfiles import bundles
from gnomon.executors import dag_versions
from gnomon.executors.dag_versions import LoadedVersion
from gnomon.executors.execution_client import ExecutionApiError, ExecutionClient, StartAnswer


class RemoteVersions:
    def __init__(self, client: ExecutionClient, cache_folder: Path, bundle_retention: float):
        self.client = client
        self.cache_folder = cache_folder
        self._loaded: dict[int, LoadedVersion] = {}
        #: Where each loaded version's code is: its DAG file and helper folder.
        self._code_of: dict[int, tuple[Path, Path]] = {}
        self._bundles = bundles.BundleCache(cache_folder / "bundles", keep_for=bundle_retention)

    def load(
        self, try_id: int, answer: StartAnswer, token: str, dags_folder: Path
    ) -> LoadedVersion:
        """The try's DAG, loaded once per version in this process. A failure to fetch the
        code is not kept (the next try may fetch it); a failure to import it is."""
        cached = self._loaded.get(answer.dag_version_id)
        if cached is not None:
            return cached
        try:
            path, folder = self._code(try_id, answer, token, dags_folder)
        except (ExecutionApiError, OSError, ValueError) as exc:
            return LoadedVersion(
                None, f"cannot fetch the code of DAG version {answer.dag_version_id}: {exc}"
            )
        loaded = dag_versions.load(path, folder, answer.dag_id, answer.version_hash)
        self._loaded[answer.dag_version_id] = loaded
        self._code_of[answer.dag_version_id] = (path, folder)
        return loaded

    def job_fields(self, answer: StartAnswer, loaded: LoadedVersion) -> dict[str, Any]:
        """What a kept try process needs to load the try's version (``for_job``): it may
        have been forked before the version was loaded here, so it gets where the code is."""
        path, folder = self._code_of.get(answer.dag_version_id, (None, None))
        return {
            "dag_version_id": answer.dag_version_id,
            "dag_id": answer.dag_id,
            "version_hash": answer.version_hash,
            "path": None if path is None else str(path),
            "folder": None if folder is None else str(folder),
            "error": None if loaded.dag is not None else loaded.message,
        }

    def for_job(self, job: Mapping[str, Any]) -> LoadedVersion:
        """In the kept try process: the version ``job_fields`` describes, loaded here once
        (unless this process was forked with it loaded already)."""
        version_id = int(job["dag_version_id"])
        loaded = self._loaded.get(version_id)
        if loaded is None:
            if job["error"] is not None or job["path"] is None:
                loaded = LoadedVersion(None, job["error"] or "the DAG's code was not fetched")
            else:
                loaded = dag_versions.load(
                    Path(job["path"]), Path(job["folder"]), job["dag_id"], job["version_hash"]
                )
                self._loaded[version_id] = loaded
        return loaded

    def _code(
        self, try_id: int, answer: StartAnswer, token: str, dags_folder: Path
    ) -> tuple[Path, Path]:
        """The DAG file on this machine, and the folder to import its helper modules from:
        the version's bundle, materialised in the cache; else (a version made before bundles)
        its stored source, with helpers from this machine's DAGs folder if it has one."""
        relative = Path(*bundles.relative_path(answer.fileloc).parts)
        if answer.bundle is not None:
            folder = self._bundles.ensure(
                answer.bundle.hash,
                answer.bundle.files,
                lambda sha256: self.client.file(try_id, token, sha256),
            )
            return folder / relative, folder
        folder = self.cache_folder / "sources" / str(answer.dag_version_id)
        path = folder / relative
        if not path.exists():
            bundles.write_atomically(path, self.client.source(try_id, token).encode())
        return path, dags_folder if dags_folder.is_dir() else folder
