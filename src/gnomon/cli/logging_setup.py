"""How the long-running commands (scheduler, DAG processor, API, worker, standalone) log."""

from __future__ import annotations

import logging
import sys

from gnomon import settings as settings_module


def configure(settings: settings_module.Settings) -> None:
    """Log INFO and above to stderr in the format ``settings.log_format`` names."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
