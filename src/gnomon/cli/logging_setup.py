"""How the long-running commands (scheduler, DAG processor, API, worker, standalone) log.

``log_format = "json"`` writes one JSON object per line, for log collectors: ``time``
(ISO 8601, UTC), ``level``, ``logger``, ``message``, ``exception`` (the traceback, if any),
and every field a call passed with ``extra=``. The API's server (uvicorn) gets the same
handler through ``uvicorn_config``, so its own lines are in the same format.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from gnomon import settings as settings_module

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",  # Python 3.12+
    "color_message",  # uvicorn's colored copy of the message
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        # default=str: an extra value JSON cannot hold (a datetime, a path) is shown as text
        # rather than losing the line.
        return json.dumps(entry, default=str, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(settings: settings_module.Settings) -> None:
    """Log INFO and above to stderr in the format ``settings.log_format`` names (unless the
    process already has a root handler, as under a test runner)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings.log_format))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def uvicorn_config(settings: settings_module.Settings) -> dict[str, Any]:
    """A ``log_config`` for ``uvicorn.run``: its loggers write to stderr in the format of
    ``settings.log_format``, like the rest of the process."""
    factory = (
        {"()": f"{__name__}.JsonFormatter"}
        if settings.log_format == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"gnomon": factory},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "gnomon",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "propagate": False},
            "uvicorn.error": {},  # goes up to "uvicorn": one line per record
            "uvicorn.access": {"handlers": ["stderr"], "propagate": False},
        },
        # dictConfig replaces the handlers configure() gave the root logger: give it this one.
        "root": {"handlers": ["stderr"], "level": "INFO"},
    }
