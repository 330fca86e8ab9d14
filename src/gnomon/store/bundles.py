"""DAG bundles: the DAGs folder's files as they were when a DAG version was made, stored by
content hash, so that a remote worker can run exactly that code.

A file is stored once (``dag_files``, by sha256) however many bundles hold it; a bundle
(``dag_bundles``) is its manifest, path -> sha256, named by the sha256 of the manifest's
canonical JSON (``dagfiles.bundles.manifest_hash``, computed by the DAG processor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gnomon.store import models, sql
from gnomon.store.columns import utcnow


@dataclass(frozen=True, slots=True)
class Bundle:
    #: sha256 (hex) of the manifest's canonical JSON.
    hash: str
    #: Path relative to the DAGs folder -> sha256 (hex) of the file's content.
    files: Mapping[str, str]


def of_version(session: Session, version_id: int) -> Bundle | None:
    """The bundle DAG version ``version_id`` was made from; None if it has none."""
    row = session.execute(
        select(models.DagBundle.hash, models.DagBundle.files)
        .join(models.DagVersion, models.DagVersion.bundle_hash == models.DagBundle.hash)
        .where(models.DagVersion.id == version_id)
    ).first()
    return None if row is None else Bundle(row.hash, dict(row.files))


def file_content(session: Session, sha256: str) -> bytes | None:
    """The content of the stored file with this hash; None if there is none."""
    found: bytes | None = session.scalar(
        select(models.DagFile.content).where(models.DagFile.sha256 == sha256)
    )
    return found


def save(session: Session, bundle: Bundle, content: Callable[[str], bytes]) -> bool:
    """Store ``bundle`` unless it is stored; whether it was new.

    ``content(sha256)`` gives the bytes of a file not stored yet; the files already stored
    (by another bundle) are not read. Inserts skip rows a concurrent writer inserted first
    (``ON CONFLICT DO NOTHING``), so two DAG processors storing the same files do not fail.
    A stored bundle's files are all stored: they are written first, in the same transaction.
    """
    known = select(models.DagBundle.hash).where(models.DagBundle.hash == bundle.hash)
    if session.scalar(known) is not None:
        return False
    wanted = sorted(set(bundle.files.values()))
    stored: set[str] = set()
    for chunk in sql.chunks(wanted):
        stored.update(
            session.scalars(select(models.DagFile.sha256).where(models.DagFile.sha256.in_(chunk)))
        )
    for sha256 in wanted:
        if sha256 not in stored:
            data = content(sha256)
            values = {"sha256": sha256, "content": data, "size": len(data)}
            sql.insert_new(session, models.DagFile, values, key=["sha256"])
    values = {"hash": bundle.hash, "files": dict(bundle.files), "created_at": utcnow()}
    sql.insert_new(session, models.DagBundle, values, key=["hash"])
    return True
