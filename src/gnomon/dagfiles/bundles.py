"""DAG bundles: the DAGs folder's files by content hash, and their copies on workers.

A bundle is a manifest, path relative to the folder (posix) -> sha256 of the file, named by
the sha256 of the manifest's canonical JSON. The DAG processor makes one from the folder each
pass (``manifest_hash``, ``code_hash``); a remote worker materialises the one its try's
version was made from with ``BundleCache`` and imports the DAG and its helpers from there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
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

    A bundle's folder is touched when it is used (at most every ``TOUCH_EVERY`` seconds), and each
    time a new bundle is made, bundles unused for ``keep_for`` seconds are removed, then the
    files no bundle links any more (see ``prune``).
    """

    #: Seconds between two touches of a bundle in use (one ``stat`` per use otherwise).
    TOUCH_EVERY = 3600.0

    def __init__(self, root: Path, *, keep_for: float = 7 * 86400.0) -> None:
        self.root = Path(os.path.abspath(root))
        self.keep_for = keep_for
        self._touch_every = min(self.TOUCH_EVERY, keep_for / 4)
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
        try:
            found = folder.stat()
        except FileNotFoundError:
            pass
        else:
            if time.time() - found.st_mtime > self._touch_every:
                _touch(folder)
            return folder
        if manifest_hash(files) != bundle_hash:
            raise ValueError(f"the manifest of bundle {bundle_hash} does not have its hash")
        try:
            made = self._build(bundle_hash, files, fetch)
        except FileNotFoundError:
            # A cached file was pruned by another process while this one linked it: once
            # more, fetching it again.
            made = self._build(bundle_hash, files, fetch)
        self.prune()
        return made

    def prune(self, now: float | None = None) -> tuple[int, int]:
        """Remove the bundles not used for ``keep_for`` seconds, then the cached files no
        bundle links any more that were not fetched or used for as long, and what builds and
        prunes that were cut short left behind; how many bundles and files went.

        A bundle is first renamed out of the way, so a process that looks for it after that
        builds it again rather than finding half of it; one still in use was touched within
        ``keep_for`` (a try of a version running for longer than that may miss a helper
        module it imports late)."""
        cutoff = (time.time() if now is None else now) - self.keep_for
        bundles = files = 0
        for entry in _entries(self.root):
            name = entry.name
            if name == "files" or not _older(entry, cutoff):
                continue
            if _SHA256.match(name):
                trash = self.root / f".trash.{name}.{os.getpid()}"
                try:
                    os.rename(entry.path, trash)
                except OSError:  # another process took it first
                    continue
                shutil.rmtree(trash, ignore_errors=True)
                bundles += 1
            elif name.startswith("."):  # a build or prune cut short
                shutil.rmtree(entry.path, ignore_errors=True)
        for entry in _entries(self._files):
            try:
                links = entry.stat(follow_symlinks=False).st_nlink
            except FileNotFoundError:
                continue
            if links == 1 and _older(entry, cutoff):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    files += 1
        return bundles, files

    def _build(
        self, bundle_hash: str, files: Mapping[str, str], fetch: Callable[[str], bytes]
    ) -> Path:
        folder = self.root / bundle_hash
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
            _touch(path)  # in use again: not for ``prune`` to take
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


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):  # gone meanwhile: whoever uses it next makes it again
        os.utime(path)


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as found:
            return list(found)
    except FileNotFoundError:
        return []


def _older(entry: os.DirEntry[str], cutoff: float) -> bool:
    try:
        return entry.stat(follow_symlinks=False).st_mtime < cutoff
    except FileNotFoundError:
        return False


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
