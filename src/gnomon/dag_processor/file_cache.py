"""What the DAG processor remembers between passes: each DAG file's stamp and its last parse.

A file is imported again only when its stamp changed (or it is new). The parse of the whole
folder is then rebuilt from the cached results of the other files, so the store always gets
the complete picture. One exception: a file that defines no DAG and imports cleanly is taken
for a helper module that DAG files may import, so adding, changing or removing one reparses
every file (the processor does the same when another file of the folder changes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gnomon.dagfiles.parser import FileParseResult


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What changes when a file is written or replaced.

    mtime and size alone miss a same-size edit within the clock's granularity, or a copy that
    keeps the old mtime (``cp -p``, ``rsync -t``); the change time and inode catch those.
    """

    mtime_ns: int
    ctime_ns: int
    size: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileStamp | None:
        """The file's stamp now; None if it is gone."""
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return cls(stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_ino)


def stamps(paths: Sequence[Path]) -> dict[Path, FileStamp]:
    """The stamps of ``paths`` now, leaving out those deleted since they were listed."""
    found = {path: FileStamp.of(path) for path in paths}
    return {path: stamp for path, stamp in found.items() if stamp is not None}


@dataclass(frozen=True, slots=True)
class CachedFile:
    stamp: FileStamp
    result: FileParseResult


@dataclass(frozen=True, slots=True)
class Scan:
    """The DAG files found now (sorted, with their stamps), and how they differ from a cache."""

    stamps: Mapping[Path, FileStamp]
    #: New files and files whose stamp changed, in path order.
    changed: tuple[Path, ...]
    #: Cached files that are no longer found, in path order.
    removed: tuple[Path, ...]

    @property
    def unchanged(self) -> list[Path]:
        changed = set(self.changed)
        return [path for path in self.stamps if path not in changed]


@dataclass(frozen=True, slots=True)
class FileCache:
    """Each DAG file's stamp when it was last parsed, and that parse (sorted by path)."""

    files: Mapping[Path, CachedFile] = field(default_factory=dict)

    def scan(self, stamps: Mapping[Path, FileStamp]) -> Scan:
        """Compare the DAG files found now (by their stamps) with the cache."""
        changed = tuple(
            path
            for path, stamp in stamps.items()
            if (cached := self.files.get(path)) is None or cached.stamp != stamp
        )
        removed = tuple(path for path in self.files if path not in stamps)
        return Scan(stamps, changed, removed)

    def helper_touched(self, scan: Scan, parsed: Sequence[FileParseResult]) -> bool:
        """Whether a helper module was added, changed or removed, by its old or new parse."""
        before = [self.files[p].result for p in (*scan.changed, *scan.removed) if p in self.files]
        return any(_is_helper(result) for result in (*before, *parsed))

    def updated(self, scan: Scan, parsed: Sequence[FileParseResult]) -> FileCache:
        """The cache after ``scan``: the files it found, with ``parsed`` results where given.

        Every file of ``scan.changed`` must be among ``parsed``.
        """
        fresh = {result.file: result for result in parsed}
        files: dict[Path, CachedFile] = {}
        for path, stamp in scan.stamps.items():
            result = fresh.get(path)
            files[path] = CachedFile(stamp, self.files[path].result if result is None else result)
        return FileCache(files)

    def results(self) -> list[FileParseResult]:
        """The last parse of every file, in path order."""
        return [cached.result for cached in self.files.values()]


def _is_helper(result: FileParseResult) -> bool:
    return not result.dags and result.error is None
