"""DAG bundles: the DAGs folder's files by content hash, and their copies on workers.

A bundle is a manifest, path relative to the folder (posix) -> sha256 of the file, named by
the sha256 of the manifest's canonical JSON. The DAG processor makes one from the folder each
pass (``manifest_hash``, ``code_hash``); a remote worker materialises the one its try's
version was made from with ``BundleCache`` and imports the DAG and its helpers from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

#: Files larger than this are left out of bundles (the DAG processor logs a warning).
MAX_FILE_BYTES = 16 * 1024 * 1024

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def manifest_hash(files: Mapping[str, str]) -> str:
    """The bundle's name: sha256 of the manifest's canonical JSON."""
    return sha256(_canonical(files))


def code_hash(dag_file: str | None, support: Mapping[str, str]) -> str:
    """What a DAG version's code is: the sha256 of its DAG file (None: not in the bundle) and
    the manifest of the folder's files that are not DAG files (helper modules, data). Other
    DAG files are left out, so that editing one makes no new version of every DAG."""
    return sha256(_canonical({"dag_file": dag_file, "support": dict(support)}))


def relative_path(relpath: str) -> PurePosixPath:
    """A manifest's path as a path inside the bundle; ValueError if it would leave it."""
    path = PurePosixPath(relpath)
    if not relpath or path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"bundle path {relpath!r} is not a path inside the DAGs folder")
    return path


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class BundleCache:
    """Bundles materialised under ``root``: each at ``root/<hash>/``, made once and never
    changed, its files hard links to ``root/files/<sha256>`` (each content stored once).

    Safe for concurrent processes sharing ``root`` (a Celery worker's pool processes): a
    bundle is built in a temporary folder and renamed into place, so it is seen whole or not
    at all, and a file is written the same way.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self._files = self.root / "files"

    def ensure(
        self, bundle_hash: str, files: Mapping[str, str], fetch: Callable[[str], bytes]
    ) -> Path:
        """The folder of bundle ``bundle_hash``, made from ``files`` (path -> sha256) if it is
        not here yet; ``fetch(sha256)`` gives the content of a file not cached yet. Raises
        ValueError if the manifest is not the bundle's, a path leaves the folder or a fetched
        file's content does not have its hash."""
        if not _SHA256.match(bundle_hash):
            raise ValueError(f"bundle hash {bundle_hash!r} is not a sha256 (64 hex digits)")
        folder = self.root / bundle_hash
        if folder.is_dir():
            return folder
        if manifest_hash(files) != bundle_hash:
            raise ValueError(f"the manifest of bundle {bundle_hash} does not have its hash")
        paths = {relative_path(relpath): digest for relpath, digest in files.items()}
        self._files.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{bundle_hash}."))
        try:
            for relative, digest in sorted(paths.items()):
                stored = self._file(digest, fetch, bundle_hash, relative)
                target = building.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(stored, target)
                except OSError:  # a file system without hard links
                    shutil.copyfile(stored, target)
            os.rename(building, folder)
        except OSError:
            shutil.rmtree(building, ignore_errors=True)
            if folder.is_dir():  # another process renamed its copy into place first
                return folder
            raise
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return folder

    def _file(
        self,
        digest: str,
        fetch: Callable[[str], bytes],
        bundle_hash: str,
        relative: PurePosixPath,
    ) -> Path:
        """The cached file of content ``digest``, fetched and checked if it is not cached."""
        if not _SHA256.match(digest):
            raise ValueError(f"file {relative} of bundle {bundle_hash}: {digest!r} is not a sha256")
        path = self._files / digest
        if path.is_file():
            return path
        content = fetch(digest)
        if sha256(content) != digest:
            raise ValueError(
                f"file {relative} of bundle {bundle_hash} was fetched with sha256 "
                f"{sha256(content)}, not {digest}: not cached"
            )
        # Read-only: the bundles' hard links share it, and no try may change another's.
        write_atomically(path, content, mode=stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        return path


def write_atomically(path: Path, content: bytes, *, mode: int | None = None) -> None:
    """Write ``content`` to ``path`` (with ``mode``) so that no process ever sees part of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
