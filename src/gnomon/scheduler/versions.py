"""Serialized DAG versions, read once from the store and kept (a version never changes)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from gnomon.semantics import timetables
from gnomon.serialization.model import SerializedDag
from gnomon.store import models


@dataclass(frozen=True, slots=True)
class Version:
    id: int
    dag_id: str
    version_hash: str
    fileloc: str
    dag: SerializedDag
    timetable: timetables.Timetable
    #: The DAG file's path relative to the DAGs folder; None for versions made before bundles.
    relative_fileloc: str | None = None


class VersionCache:
    def __init__(self) -> None:
        self._versions: dict[int, Version] = {}

    def get(self, session: Session, version_id: int) -> Version:
        version = self._versions.get(version_id)
        if version is None:
            row = session.get(models.DagVersion, version_id)
            if row is None:
                raise LookupError(f"DAG version {version_id} does not exist")
            dag = SerializedDag.from_json(row.serialized)
            version = Version(
                row.id,
                row.dag_id,
                row.version_hash,
                row.fileloc,
                dag,
                timetables.from_json(dag.schedule),
                row.relative_fileloc,
            )
            self._versions[version_id] = version
        return version
