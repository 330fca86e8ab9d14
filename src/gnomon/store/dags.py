"""DAGs and their versions: what the DAG processor stores after parsing the DAGs folder."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gnomon.store import import_errors, models, sql

if TYPE_CHECKING:  # the parse result's types only: the store never runs the parser
    from gnomon.dagfiles.bag import FolderParseResult
    from gnomon.dagfiles.parser import ParsedDag


@dataclass(frozen=True, slots=True)
class Dag:
    dag_id: str
    fileloc: str
    is_paused: bool
    is_active: bool
    team: str | None
    tags: tuple[str, ...]
    latest_version_id: int | None
    schedule_summary: str | None
    description: str | None
    max_active_runs: int
    max_active_tasks: int
    last_parsed_at: datetime | None
    next_dagrun_logical_date: datetime | None = None
    next_dagrun_create_after: datetime | None = None

    @classmethod
    def from_row(cls, row: models.Dag) -> Dag:
        return cls(
            row.dag_id,
            row.fileloc,
            row.is_paused,
            row.is_active,
            row.team,
            tuple(row.tags),
            row.latest_version_id,
            row.schedule_summary,
            row.description,
            row.max_active_runs,
            row.max_active_tasks,
            row.last_parsed_at,
            row.next_dagrun_logical_date,
            row.next_dagrun_create_after,
        )


@dataclass(frozen=True, slots=True)
class DagVersion:
    id: int
    dag_id: str
    version_hash: str
    serialized: dict[str, Any]
    source_code: str
    fileloc: str
    created_at: datetime
    relative_fileloc: str | None = None
    code_hash: str | None = None
    bundle_hash: str | None = None

    @classmethod
    def from_row(cls, row: models.DagVersion) -> DagVersion:
        return cls(
            row.id,
            row.dag_id,
            row.version_hash,
            row.serialized,
            row.source_code,
            row.fileloc,
            row.created_at,
            row.relative_fileloc,
            row.code_hash,
            row.bundle_hash,
        )


@dataclass(frozen=True, slots=True)
class FileCode:
    """The code a DAG file's versions run, as the DAG processor found it in the folder."""

    #: The file's path relative to the DAGs folder (posix).
    relative_fileloc: str
    #: sha256 of the file and of the folder's files that are not DAG files
    #: (``dagfiles.bundles.code_hash``): a version is one per (DAG, version hash, code hash).
    code_hash: str
    #: The folder's bundle (stored already); None if the file is not in it (too large).
    bundle_hash: str | None


@dataclass(frozen=True, slots=True)
class SyncReport:
    """The DAG ids a sync created, gave a new version (created ones included), deactivated."""

    created: list[str]
    new_versions: list[str]
    deactivated: list[str]


def sync_parse_result(
    session: Session,
    result: FolderParseResult,
    *,
    now: datetime,
    paused_on_creation: bool = True,
    team_folders: Mapping[Path, str] | None = None,
    code: Mapping[Path, FileCode] | None = None,
) -> SyncReport:
    """Make the stored DAGs, versions and import errors those of a parse of the DAGs folder.

    A version is stored only when its content hash is new for the DAG with the code of its
    file in ``code`` (absolute DAG file -> its code; a file not in it has no code hash and
    no bundle, as when a folder is synced without the DAG processor). DAGs no parsed file
    defines any more are deactivated, except those of files that now fail to import: a broken
    edit must not hide a working DAG, which keeps running its previous version until the file
    is fixed. A DAG that names no team gets the team of the deepest of ``team_folders``
    (absolute folders) holding its file. One transaction; the caller commits.
    """
    created: list[str] = []
    new_versions: list[str] = []
    for parsed in result.dags.values():
        team = parsed.serialized.get("team") or _folder_team(parsed.file, team_folders or {})
        row, is_new = _upsert_dag(session, parsed, now, paused_on_creation, team)
        if is_new:
            created.append(parsed.dag_id)
        file_code = (code or {}).get(parsed.file)
        row.latest_version_id, stored = _version_id(session, parsed, file_code)
        if stored:
            new_versions.append(parsed.dag_id)
    failing = {str(error.file): error.error for error in result.import_errors}
    deactivated = _deactivate_missing(session, set(result.dags), set(failing))
    import_errors.retain_only(session, failing)
    for fileloc, error in sorted(failing.items()):
        import_errors.record(session, fileloc, error)
    session.flush()
    return SyncReport(created, new_versions, deactivated)


def latest_version(session: Session, dag_id: str) -> DagVersion | None:
    """The version ``dags.latest_version_id`` points at; None for an unknown DAG."""
    row = session.scalar(
        select(models.DagVersion)
        .join(models.Dag, models.Dag.latest_version_id == models.DagVersion.id)
        .where(models.Dag.dag_id == dag_id)
    )
    return None if row is None else DagVersion.from_row(row)


def set_paused(session: Session, dag_id: str, paused: bool) -> bool:
    """Pause or unpause the DAG (no scheduled runs while paused); False for an unknown DAG."""
    stmt = (
        update(models.Dag)
        .where(models.Dag.dag_id == dag_id)
        .values(is_paused=paused)
        .returning(models.Dag.dag_id)
    )
    return session.execute(stmt).first() is not None


@dataclass(frozen=True, slots=True)
class DagFilter:
    """Which DAGs a listing shows. ``teams`` None: every team's; else the DAGs of those teams
    and the DAGs of no team."""

    teams: frozenset[str] | None
    paused: bool | None = None
    only_active: bool = True
    id_contains: str | None = None
    #: Only DAGs with all of these tags.
    tags: frozenset[str] = frozenset()

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.teams is not None:
            found.append(or_(models.Dag.team.is_(None), models.Dag.team.in_(sorted(self.teams))))
        if self.paused is not None:
            found.append(models.Dag.is_paused.is_(self.paused))
        if self.only_active:
            found.append(models.Dag.is_active.is_(True))
        if self.id_contains:
            found.append(models.Dag.dag_id.contains(self.id_contains, autoescape=True))
        return found


@dataclass(frozen=True, slots=True)
class VersionSummary:
    id: int
    version_hash: str
    fileloc: str
    created_at: datetime


def get(session: Session, dag_id: str) -> Dag | None:
    row = session.get(models.Dag, dag_id)
    return None if row is None else Dag.from_row(row)


def page(session: Session, where: DagFilter, *, limit: int, offset: int) -> tuple[list[Dag], int]:
    """The DAGs ``where`` chooses, by id, and how many there are.

    Tags live in a JSON column, which SQLite and Postgres query differently: with a tag
    filter the ids and tags of the other matches are read and filtered here."""
    conditions = where.conditions()
    if where.tags:
        rows = session.execute(select(models.Dag.dag_id, models.Dag.tags).where(*conditions))
        ids = sorted(dag_id for dag_id, tags in rows if where.tags <= set(tags))
        chosen = session.scalars(
            select(models.Dag)
            .where(models.Dag.dag_id.in_(ids[offset : offset + limit]))
            .order_by(models.Dag.dag_id)
        )
        return [Dag.from_row(r) for r in chosen], len(ids)
    total = session.scalar(select(func.count()).select_from(models.Dag).where(*conditions))
    chosen = session.scalars(
        select(models.Dag)
        .where(*conditions)
        .order_by(models.Dag.dag_id)
        .limit(limit)
        .offset(offset)
    )
    return [Dag.from_row(r) for r in chosen], total or 0


def ids(session: Session, where: DagFilter, among: Collection[str] | None = None) -> list[str]:
    """The ids of the DAGs ``where`` chooses (of ``among`` only, if given)."""
    stmt = select(models.Dag.dag_id).where(*where.conditions())
    if among is not None:
        stmt = stmt.where(models.Dag.dag_id.in_(list(among)))
    return list(session.scalars(stmt))


def versions_page(
    session: Session, dag_id: str, *, limit: int, offset: int
) -> tuple[list[VersionSummary], int]:
    """The DAG's versions, newest first (without their serialized DAG and source), and how
    many there are."""
    where = models.DagVersion.dag_id == dag_id
    total = session.scalar(select(func.count()).select_from(models.DagVersion).where(where))
    rows = session.execute(
        select(
            models.DagVersion.id,
            models.DagVersion.version_hash,
            models.DagVersion.fileloc,
            models.DagVersion.created_at,
        )
        .where(where)
        .order_by(models.DagVersion.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [VersionSummary(*r) for r in rows], total or 0


def version(session: Session, dag_id: str, version_id: int) -> DagVersion | None:
    """Version ``version_id`` if it is one of the DAG's."""
    row = session.get(models.DagVersion, version_id)
    return None if row is None or row.dag_id != dag_id else DagVersion.from_row(row)


def list_dags(session: Session) -> list[Dag]:
    """Every stored DAG, active or not, sorted by id."""
    rows = session.scalars(select(models.Dag).order_by(models.Dag.dag_id))
    return [Dag.from_row(row) for row in rows]


def _folder_team(file: Path, team_folders: Mapping[Path, str]) -> str | None:
    holding = [folder for folder in team_folders if file.is_relative_to(folder)]
    return team_folders[max(holding, key=lambda f: len(f.parts))] if holding else None


def _upsert_dag(
    session: Session, parsed: ParsedDag, now: datetime, paused: bool, team: str | None
) -> tuple[models.Dag, bool]:
    """Write the DAG's row from its parse; the row, and whether it is new."""
    row = session.get(models.Dag, parsed.dag_id)
    is_new = row is None
    if row is None:
        row = models.Dag(dag_id=parsed.dag_id, is_paused=paused)
        session.add(row)
    serialized = parsed.serialized
    row.fileloc = str(parsed.file)
    row.tags = list(serialized["tags"])
    row.team = team
    row.schedule_summary = serialized.get("schedule_summary")
    row.description = serialized.get("description")
    row.max_active_runs = serialized["max_active_runs"]
    row.max_active_tasks = serialized["max_active_tasks"]
    row.is_active = True
    row.last_parsed_at = now
    # The version row refers to this one: it must be in the database first.
    session.flush()
    return row, is_new


def _version_id(session: Session, parsed: ParsedDag, code: FileCode | None) -> tuple[int, bool]:
    """The id of the DAG's version of this content and code, and whether it was stored just
    now. A version found keeps the bundle it was made with."""
    code_hash = None if code is None else code.code_hash
    version_id = session.scalar(
        select(models.DagVersion.id).where(
            models.DagVersion.dag_id == parsed.dag_id,
            models.DagVersion.version_hash == parsed.version_hash,
            models.DagVersion.code_hash.is_(None)
            if code_hash is None
            else models.DagVersion.code_hash == code_hash,
        )
    )
    is_new = version_id is None
    if version_id is None:
        version = models.DagVersion(
            dag_id=parsed.dag_id,
            version_hash=parsed.version_hash,
            serialized=parsed.serialized,
            source_code=_source_code(parsed.file),
            fileloc=str(parsed.file),
            relative_fileloc=None if code is None else code.relative_fileloc,
            code_hash=code_hash,
            bundle_hash=None if code is None else code.bundle_hash,
        )
        session.add(version)
        session.flush()
        version_id = version.id
    return version_id, is_new


def _deactivate_missing(session: Session, parsed_ids: set[str], failing: set[str]) -> list[str]:
    """Deactivate active DAGs that were not parsed and whose file did not fail; their ids."""
    active = session.execute(
        select(models.Dag.dag_id, models.Dag.fileloc).where(models.Dag.is_active.is_(True))
    ).all()
    gone = sorted(
        dag_id for dag_id, fileloc in active if dag_id not in parsed_ids and fileloc not in failing
    )
    for chunk in sql.chunks(gone):
        session.execute(
            update(models.Dag).where(models.Dag.dag_id.in_(chunk)).values(is_active=False)
        )
    return gone


def _source_code(path: Path) -> str:
    # The file may have changed or vanished since it was parsed; the version keeps what is
    # readable now (the serialized DAG, not the source, is what runs).
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
