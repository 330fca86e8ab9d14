"""Reading a try's log file in pieces, for the log endpoints (plain and streamed).

Behind one function taking the log's location, so that another store (fsspec, object
storage) can take the place of the local file system.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The most bytes one call returns.
MAX_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Chunk:
    content: str
    #: Where the next read starts (a byte offset in the file).
    next_offset: int
    #: ``next_offset`` is the end of the file, or the file does not exist.
    at_end: bool


def read(location: str, offset: int, *, final: bool, limit: int = MAX_CHUNK) -> Chunk:
    """The log at ``location`` from byte ``offset``, at most ``limit`` bytes.

    A UTF-8 character the writer has only partly written (or that the limit cuts) is left
    for the next read; ``final`` (the writer is done) takes an incomplete character at the
    very end of the file as it is. Bytes that are not UTF-8 are replaced.
    """
    try:
        with Path(location).open("rb") as f:
            f.seek(offset)
            data = f.read(limit)
            at_end = f.read(1) == b""
    except FileNotFoundError:
        return Chunk("", offset, True)
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
