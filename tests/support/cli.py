"""Running the ``gnomon`` command as a user would: a subprocess with its own GNOMON_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from gnomon.store import db, schema


def gnomon(
    home: Path, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``gnomon ARGS`` with ``GNOMON_HOME=home`` and no other GNOMON_* variables
    (``stdin``: text fed to the command's standard input)."""
    # pytest-xdist sets COLUMNS=80, which would wrap the tables of a piped command.
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GNOMON_") and k not in ("COLUMNS", "LINES")
    }
    return subprocess.run(
        [sys.executable, "-m", "gnomon.cli.main", *args],
        env={**clean, "GNOMON_HOME": str(home), **(env or {})},
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def migrated_home(home: Path) -> Path:
    """``home`` with its SQLite database migrated (as by ``gnomon db migrate``)."""
    engine = db.make_engine(db.default_sqlite_url(home))
    try:
        schema.migrate(engine)
    finally:
        engine.dispose()
    return home
