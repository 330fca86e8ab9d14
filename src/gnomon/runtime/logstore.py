"""Where tries' logs are kept, and reading a log from wherever it is, by byte offset.

A try always writes its log to a file under the logs folder of the machine it runs on, at
``Workload.log_relpath`` (the same relative path on every machine). With ``log_url`` set to
another place (any fsspec URL: ``s3://bucket/prefix``...), the worker copies the finished log
there and reports that location, which is what the try records. While the try runs, its
location is the local file (local executor) or the worker's log server (``log_server``).

Reading takes any recorded location: a local path, a worker's ``http(s)://`` URL or an fsspec
URL, always as a ranged read, so following a large or growing log never fetches all of it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# fsspec ships no type information; ignored here rather than for the whole project.
import fsspec  # type: ignore[import-untyped]
from fsspec.core import split_protocol, url_to_fs  # type: ignore[import-untyped]
from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]

from gnomon import metrics
from gnomon.runtime import log_server

log = logging.getLogger(__name__)

#: The most bytes one read returns.
MAX_CHUNK = 1024 * 1024

_LOCAL_PROTOCOLS = ("file", "local")


@dataclass(frozen=True, slots=True)
class Chunk:
    content: str
    #: Where the next read starts (a byte offset in the log).
    next_offset: int
    #: ``next_offset`` is the end of the log, or the log does not exist.
    at_end: bool


class LogUnavailable(Exception):
    """The log is somewhere that cannot be read now (a worker that is down, a store that
    refuses); the message says where (without any signature) and why."""


class LogStore:
    """The logs folder of this machine and, if ``url`` names another place, the remote store
    finished logs are copied to. ``url`` None, or a ``file://`` URL of the same folder, means
    logs stay where they are written."""

    def __init__(
        self, url: str | None, local_folder: Path, storage_options: Mapping[str, Any]
    ) -> None:
        self.local_folder = local_folder
        self.storage_options = dict(storage_options)
        self.url = url
        self.remote = False
        if url is not None:
            protocol = split_protocol(url)[0] or "file"
            # Fails now, with fsspec's message ("Install s3fs to access S3"), not at the first
            # upload; the file system itself is made on first use, so that a warm worker
            # starts no I/O thread before it forks its tries.
            fsspec.get_filesystem_class(protocol)
            same_folder = protocol in _LOCAL_PROTOCOLS and (
                Path(LocalFileSystem._strip_protocol(url)).resolve() == local_folder.resolve()
            )
            self.remote = not same_folder

    def location(self, relpath: str) -> str:
        """Where the log of ``relpath`` is kept once its try has finished."""
        if not self.remote:
            return str(self.local_folder / relpath)
        fs, target = self._target(relpath)
        return str(fs.unstrip_protocol(target))

    def upload(self, relpath: str) -> str:
        """Copy ``local_folder/relpath`` to the remote store; the location to record (the
        local path when there is no remote store). Raises what the file system raises."""
        source = self.local_folder / relpath
        if not self.remote:
            return str(source)
        fs, target = self._target(relpath)
        if isinstance(fs, LocalFileSystem):  # object stores have no folders to create
            fs.makedirs(fs._parent(target), exist_ok=True)
        fs.put_file(str(source), target)
        return str(fs.unstrip_protocol(target))

    def store_finished(self, relpath: str, *, fallback: str | None = None) -> str:
        """The location to record for the finished try's log at ``relpath``: uploaded if
        there is a remote store. Without one, or if the upload fails, ``fallback`` (a
        worker's log server URL, which goes on serving it) or the local path. A failed upload
        is logged, counted (``gnomon_log_uploads_total{outcome="failed"}``) and noted at the
        end of the local log: a try's end must not wait for, or be lost with, the store."""
        kept = fallback or str(self.local_folder / relpath)
        if not self.remote:
            return kept
        try:
            location = self.upload(relpath)
        except Exception as exc:
            metrics.LOG_UPLOADS.labels(outcome="failed").inc()
            log.warning("uploading the log %s to %s failed: %s", relpath, self.url, exc)
            with (self.local_folder / relpath).open("a", encoding="utf-8") as f:
                f.write(f"*** uploading this log to {self.url} failed: {exc}\n")
            return kept
        metrics.LOG_UPLOADS.labels(outcome="ok").inc()
        return location

    def _target(self, relpath: str) -> tuple[fsspec.AbstractFileSystem, str]:
        assert self.url is not None
        fs, root = url_to_fs(self.url, **self.storage_options)
        return fs, f"{root.rstrip('/')}/{relpath}"


def read(
    location: str,
    offset: int,
    *,
    final: bool,
    limit: int = MAX_CHUNK,
    storage_options: Mapping[str, Any] | None = None,
) -> Chunk:
    """The log at ``location`` from byte ``offset``, at most ``limit`` bytes.

    ``location`` is a local path, a worker's log server URL, or any fsspec URL (read with
    ``storage_options``). A UTF-8 character the writer has only partly written (or that the
    limit cuts) is left for the next read; ``final`` (the writer is done) takes an incomplete
    character at the very end as it is. Bytes that are not UTF-8 are replaced. A log that
    does not exist (yet) reads as empty and at its end; one that cannot be reached raises
    ``LogUnavailable``.
    """
    if location.startswith(("http://", "https://")):
        try:
            fetched = log_server.fetch(location, offset, limit)
        except log_server.LogServerUnavailable as exc:
            raise LogUnavailable(str(exc)) from None
        if fetched.size is None:
            return Chunk("", offset, True)
        data, at_end = fetched.data, offset + len(fetched.data) >= fetched.size
    elif "://" in location:
        found = _read_fsspec(location, offset, limit, storage_options or {})
        if found is None:
            return Chunk("", offset, True)
        data, at_end = found
    else:
        try:
            with Path(location).open("rb") as f:
                f.seek(offset)
                data = f.read(limit)
                at_end = f.read(1) == b""
        except FileNotFoundError:
            return Chunk("", offset, True)
    return decode(data, offset, at_end=at_end, final=final)


def _read_fsspec(
    location: str, offset: int, limit: int, options: Mapping[str, Any]
) -> tuple[bytes, bool] | None:
    """``(data, at_end)`` of a ranged read; None if the object does not exist."""
    try:
        fs, path = url_to_fs(location, **options)
        size = fs.size(path)
        if size is None or offset >= size:
            return b"", True
        end = min(size, offset + limit)
        return bytes(fs.cat_file(path, start=offset, end=end)), end >= size
    except FileNotFoundError:
        return None
    except Exception as exc:  # credentials, network, a missing package: shown, not a 500
        raise LogUnavailable(f"the log at {location} cannot be read: {exc}") from None


def decode(data: bytes, offset: int, *, at_end: bool, final: bool) -> Chunk:
    """``data`` (read at ``offset``) as text, without a trailing incomplete UTF-8 character
    unless ``final`` and ``at_end``."""
    if not (final and at_end):
        keep = _complete_prefix(data)
        at_end = at_end and keep == len(data)
        data = data[:keep]
    return Chunk(data.decode("utf-8", errors="replace"), offset + len(data), at_end)


def _complete_prefix(data: bytes) -> int:
    """The length of ``data`` without an incomplete UTF-8 sequence at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: the start of the last character
            if byte >= 0xF0:
                need = 4
            elif byte >= 0xE0:
                need = 3
            elif byte >= 0xC0:
                need = 2
            else:
                need = 1
            return len(data) - back if back < need else len(data)
    return len(data)
