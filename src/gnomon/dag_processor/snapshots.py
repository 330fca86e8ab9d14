"""The DAGs folder's files by content hash, each pass: the bundle a new DAG version gets.

Files are hashed again only when their stamp changed (``FileHashes``), so an unchanged
folder costs one ``stat`` per file. A file above ``bundles.MAX_FILE_BYTES`` or unreadable is
left out, with a warning once per stamp.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gnomon.dag_processor.file_cache import FileStamp
from gnomon.dagfiles import bundles
from gnomon.dagfiles.exceptions import DagFilesError
from gnomon.dagfiles.parser import FileParseResult
from gnomon.store.dags import FileCode

logger = logging.getLogger(__name__)


class FileChanged(DagFilesError):
    """A file changed between its hashing and its storing; the next pass takes it again."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The folder's files now: path relative to the folder (posix) -> sha256, sorted."""

    root: Path
    manifest: Mapping[str, str]
    #: The bundle's name (``bundles.manifest_hash``).
    hash: str
    #: sha256 -> the first path with that content (``content``'s lookup).
    _paths: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        paths: dict[str, str] = {}
        for relpath, digest in self.manifest.items():
            paths.setdefault(digest, relpath)
        object.__setattr__(self, "_paths", paths)

    @classmethod
    def of(cls, root: Path, manifest: Mapping[str, str]) -> Snapshot:
        return cls(root, manifest, bundles.manifest_hash(manifest))

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def content(self, sha256: str) -> bytes:
        """The bytes of the file of the snapshot with this hash, read again and checked."""
        relpath = self._paths[sha256]
        try:
            content = self.root.joinpath(relpath).read_bytes()
        except OSError as exc:
            raise FileChanged(f"cannot read {relpath} of the DAGs folder again: {exc}") from None
        if bundles.sha256(content) != sha256:
            raise FileChanged(f"{relpath} of the DAGs folder changed while it was stored")
        return content

    def changed_since(self, before: Snapshot) -> set[str]:
        """The paths added, removed or changed since ``before``."""
        paths = set(self.manifest) | set(before.manifest)
        return {p for p in paths if self.manifest.get(p) != before.manifest.get(p)}

    def code(self, results: Sequence[FileParseResult]) -> dict[Path, FileCode]:
        """The code of each file of ``results`` that defines DAGs. A file that defines DAGs or
        fails to import is a DAG file; the folder's other files (helper modules, data) are
        part of every DAG file's code."""
        dag_files = {self.relative(r.file) for r in results if r.dags or r.error is not None}
        support = {p: digest for p, digest in self.manifest.items() if p not in dag_files}
        found: dict[Path, FileCode] = {}
        for result in results:
            if result.dags:
                relpath = self.relative(result.file)
                digest = self.manifest.get(relpath)
                bundle = None if digest is None else self.hash
                found[result.file] = FileCode(relpath, bundles.code_hash(digest, support), bundle)
        return found


class FileHashes:
    """Each file's sha256 as of its stamp; ``snapshot`` reads only files whose stamp changed."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[FileStamp, str]] = {}
        #: Files left out, by the stamp they were left out at (warned about once).
        self._left_out: dict[Path, FileStamp] = {}

    def snapshot(self, root: Path, stamps: Mapping[Path, FileStamp]) -> Snapshot:
        """The snapshot of the files of ``stamps`` (under ``root``), in path order."""
        known: dict[Path, tuple[FileStamp, str]] = {}
        manifest: dict[str, str] = {}
        for path, stamp in sorted(stamps.items()):
            cached = self._known.get(path)
            if cached is not None and cached[0] == stamp:
                digest: str | None = cached[1]
            else:
                digest, problem = _hash(path, stamp)
                if problem is not None and self._left_out.get(path) != stamp:
                    self._left_out[path] = stamp
                    logger.warning("%s is left out of the DAG bundle: %s", path, problem)
            if digest is not None:
                known[path] = (stamp, digest)
                manifest[path.relative_to(root).as_posix()] = digest
        self._known = known
        self._left_out = {p: s for p, s in self._left_out.items() if p in stamps}
        return Snapshot.of(root, manifest)


def _hash(path: Path, stamp: FileStamp) -> tuple[str | None, str | None]:
    """The file's sha256, or why it is left out (None: it is gone, nothing to say)."""
    too_big = (
        f"files above {bundles.MAX_FILE_BYTES} bytes are not shipped to workers; list it in "
        ".gnomonignore if no DAG needs it"
    )
    if stamp.size > bundles.MAX_FILE_BYTES:
        return None, f"{stamp.size} bytes: {too_big}"
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"it cannot be read: {exc.strerror}"
    if len(content) > bundles.MAX_FILE_BYTES:  # it grew since its stamp
        return None, f"{len(content)} bytes: {too_big}"
    return bundles.sha256(content), None
