"""DAG files for the DAG processor's tests, and what to read back from the store."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gnomon.dag_processor import processor
from gnomon.store import models

T = TypeVar("T")


def dag_source(dag_id: str, task_id: str = "t", counter: Path | None = None) -> str:
    """A DAG file defining ``dag_id`` with one task; it appends a line to ``counter`` each
    time it is imported."""
    count = (
        f"with open({str(counter)!r}, 'a') as counter:\n    counter.write('imported\\n')\n"
        if counter
        else ""
    )
    return (
        "from gnomon import DAG\n"
        "from gnomon.operators.empty import EmptyOperator\n\n"
        f"{count}\n"
        f"with DAG({dag_id!r}):\n"
        f"    EmptyOperator(task_id={task_id!r})\n"
    )


def write(path: Path, source: str) -> Path:
    """Write (or rewrite) a file as an editor saving it a second later would."""
    previous = path.stat().st_mtime_ns if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    if previous is not None:
        # The clock may not have ticked since the last write: make the edit visible by mtime.
        later = previous + 1_000_000_000
        os.utime(path, ns=(later, later))
    return path


def imports(counter: Path) -> int:
    """How many times the DAG file writing to ``counter`` was imported."""
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def version_count(session: Session, dag_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(models.DagVersion)
            .where(models.DagVersion.dag_id == dag_id)
        )
        or 0
    )


def make_processor(
    dags_folder: Path,
    sessions: Callable[[], Session],
    home: Path,
    *,
    interval: float = 0.01,
    paused_on_creation: bool = True,
) -> processor.DagProcessor:
    return processor.DagProcessor(
        dags_folder,
        sessions,
        home=home,
        file_timeout=30.0,
        interval=interval,
        paused_on_creation=paused_on_creation,
    )


def read(sessions: Callable[[], Session], query: Callable[[Session], T]) -> T:
    """``query`` in a short session of its own (an open one would hold the processor back)."""
    with sessions() as session:
        return query(session)
