"""DAG bundles: the DAGs folder's files as they were when a DAG version was made, stored by
content hash, so that a remote worker can run exactly that code (issue 5).

Interface only for now; the DAG processor fills these tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class Bundle:
    #: sha256 (hex) of the manifest's canonical JSON.
    hash: str
    #: Path relative to the DAGs folder -> sha256 (hex) of the file's content.
    files: Mapping[str, str]


def of_version(session: Session, version_id: int) -> Bundle | None:
    """The bundle DAG version ``version_id`` was made from; None if it has none."""
    return None


def file_content(session: Session, sha256: str) -> bytes | None:
    """The content of the stored file with this hash; None if there is none."""
    return None
