"""Reading a try's log for the log endpoints (plain and streamed), wherever it is.

The reading itself is ``runtime.logstore.read`` (a local file, a worker's log server, an
object store); this adds what the log view shows when the log cannot be reached just now:
a notice beside the content rather than an error, so the page goes on following it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gnomon.runtime import logstore


@dataclass(frozen=True, slots=True)
class LogRead:
    chunk: logstore.Chunk
    #: Why nothing could be read now (a worker that is down...), for the reader; not log text.
    notice: str | None = None


def read(
    location: str,
    offset: int,
    *,
    final: bool,
    storage_options: Mapping[str, Any],
    limit: int = logstore.MAX_CHUNK,
) -> LogRead:
    """The log at ``location`` from byte ``offset`` (see ``logstore.read``); if it cannot
    be reached, no content and a notice. The offset stays where it was, so a later read goes
    on from there; a ``final`` try's log reads as ended (nothing more will come)."""
    try:
        chunk = logstore.read(
            location, offset, final=final, limit=limit, storage_options=storage_options
        )
    except logstore.LogUnavailable as exc:
        later = (
            ""
            if final
            else " (it will be read again; once the try ends, its log is read from where the "
            "worker keeps it)"
        )
        return LogRead(logstore.Chunk("", offset, at_end=final), f"{exc}{later}")
    return LogRead(chunk)
