"""The metadata database's tables (SQLAlchemy declarative, no relationships).

Rows are read and written by the query modules of this package, which hand out frozen value
objects; nothing outside ``gnomon.store`` holds ORM instances. States change only through
``store.transitions``. Every index names, in a comment, the query it serves.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gnomon.semantics.states import RunState, TaskState
from gnomon.store.columns import BigId, Json, StrEnumType, UtcDateTime, utcnow

ID_LEN = 250
POOL_LEN = 256
PATH_LEN = 2000

#: Deterministic constraint names, so that migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Surrogate ids are never reused on SQLite either (a late report must not hit a new row).
NO_ID_REUSE = {"sqlite_autoincrement": True}


class RunType(enum.StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    BACKFILL = "backfill"


class JobType(enum.StrEnum):
    SCHEDULER = "scheduler"
    DAG_PROCESSOR = "dag_processor"
    TRIGGERER = "triggerer"
    API_SERVER = "api_server"
    STANDALONE = "standalone"


class JobState(enum.StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Dag(Base):
    __tablename__ = "dags"
    __table_args__ = (
        # Scheduler: active, unpaused DAGs whose next run is due (next_dagrun_create_after <= now).
        Index(None, "is_paused", "is_active", "next_dagrun_create_after"),
        # DAG processor: the DAGs a file defines (deactivate them when the file disappears).
        Index(None, "fileloc"),
    )

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    fileloc: Mapped[str] = mapped_column(String(PATH_LEN))
    is_paused: Mapped[bool] = mapped_column(Boolean)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    team: Mapped[str | None] = mapped_column(String(ID_LEN))
    tags: Mapped[list[str]] = mapped_column(Json, default=lambda: [])
    # use_alter: dags and dag_versions refer to each other; the version comes second.
    latest_version_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("dag_versions.id", use_alter=True)
    )
    schedule_summary: Mapped[str | None] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(Text)
    max_active_runs: Mapped[int] = mapped_column(Integer, default=16)
    max_active_tasks: Mapped[int] = mapped_column(Integer, default=16)
    next_dagrun_logical_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_data_interval_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_data_interval_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_create_after: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_parsed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DagFile(Base):
    """One file of the DAGs folder, by content: stored once, however many bundles hold it."""

    __tablename__ = "dag_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)


class DagBundle(Base):
    """The DAGs folder's files at one moment: their paths and content hashes."""

    __tablename__ = "dag_bundles"

    #: sha256 of the manifest's canonical JSON (``dagfiles.bundles.manifest_hash``).
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Path relative to the DAGs folder (posix) -> sha256 of the file (``dag_files``).
    files: Mapped[dict[str, str]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DagVersion(Base):
    __tablename__ = "dag_versions"
    __table_args__ = (
        # DAG processor: "is this DAG, with this code, already stored?"; also the versions of
        # one DAG. Versions made before bundles have no code_hash (NULLs never clash).
        UniqueConstraint("dag_id", "version_hash", "code_hash"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dag_id: Mapped[str] = mapped_column(
        String(ID_LEN), ForeignKey("dags.dag_id", ondelete="CASCADE")
    )
    version_hash: Mapped[str] = mapped_column(String(64))
    serialized: Mapped[dict[str, Any]] = mapped_column(Json)
    source_code: Mapped[str] = mapped_column(Text)
    fileloc: Mapped[str] = mapped_column(String(PATH_LEN))
    #: The DAG file's path relative to the DAGs folder (posix); None before bundles.
    relative_fileloc: Mapped[str | None] = mapped_column(String(PATH_LEN))
    #: sha256 of the DAG file and of the folder's files that are not DAG files (helper
    #: modules, data): the code the version runs besides its serialized DAG.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    #: The folder's files when the version was made; None: only ``source_code`` is known.
    bundle_hash: Mapped[str | None] = mapped_column(String(64), ForeignKey("dag_bundles.hash"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DagRun(Base):
    __tablename__ = "dag_runs"
    __table_args__ = (
        # Run lookup by its id; two schedulers cannot both create "scheduled__<date>".
        UniqueConstraint("dag_id", "run_id"),
        # Latest run / run of a logical date of a DAG (catchup, the grid view).
        Index(None, "dag_id", "logical_date"),
        # Scheduler: queued and running runs, and counts per DAG for max_active_runs.
        Index(None, "state", "dag_id"),
        # The API and UI: a DAG's latest runs (DAG list, grid, run history).
        Index(None, "dag_id", "run_after"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dag_id: Mapped[str] = mapped_column(
        String(ID_LEN), ForeignKey("dags.dag_id", ondelete="CASCADE")
    )
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    # A run executes the version it started with.
    dag_version_id: Mapped[int] = mapped_column(BigId, ForeignKey("dag_versions.id"))
    run_type: Mapped[RunType] = mapped_column(StrEnumType(RunType))
    state: Mapped[RunState] = mapped_column(StrEnumType(RunState), default=RunState.QUEUED)
    # None for runs that have no logical date (some manual and event-driven runs).
    logical_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    data_interval_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    data_interval_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    run_after: Mapped[datetime] = mapped_column(UtcDateTime)
    conf: Mapped[dict[str, Any]] = mapped_column(Json, default=lambda: {})
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=lambda: {})
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class TaskInstance(Base):
    __tablename__ = "task_instances"
    __table_args__ = (
        # Per-run lookups: all instances of a run, one instance by (task, map index).
        UniqueConstraint("dag_run_id", "task_id", "map_index"),
        # Scheduler: scheduled/queued instances of a pool by priority, and slots used per
        # pool (WHERE state IN (queued, running) GROUP BY pool); also all running instances.
        Index(None, "state", "pool", "priority_weight"),
        # Scheduler: running/queued instances of one DAG (max_active_tasks).
        Index(None, "dag_id", "state"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dag_run_id: Mapped[int] = mapped_column(BigId, ForeignKey("dag_runs.id", ondelete="CASCADE"))
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    state: Mapped[TaskState] = mapped_column(StrEnumType(TaskState), default=TaskState.NONE)
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    max_tries: Mapped[int] = mapped_column(Integer, default=0)
    pool: Mapped[str] = mapped_column(String(POOL_LEN), default="default_pool")
    pool_slots: Mapped[int] = mapped_column(Integer, default=1)
    queue: Mapped[str] = mapped_column(String(POOL_LEN), default="default")
    priority_weight: Mapped[int] = mapped_column(Integer, default=1)
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    duration: Mapped[float | None] = mapped_column(Float)
    hostname: Mapped[str | None] = mapped_column(String(1000))
    pid: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


class TaskTry(Base):
    __tablename__ = "task_tries"
    __table_args__ = (
        # The tries of one instance, and one try by number (the UI, late reports).
        UniqueConstraint("task_instance_id", "try_number"),
        # Zombie detection: running tries whose heartbeat is older than the threshold.
        Index(None, "state", "heartbeat_at"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_instance_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("task_instances.id", ondelete="CASCADE")
    )
    try_number: Mapped[int] = mapped_column(Integer)
    state: Mapped[TaskState] = mapped_column(StrEnumType(TaskState), default=TaskState.QUEUED)
    hostname: Mapped[str | None] = mapped_column(String(1000))
    pid: Mapped[int | None] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(1000))
    # The scheduler job whose executor runs the try (no foreign key: jobs may be purged).
    job_id: Mapped[int | None] = mapped_column(BigId)
    queue: Mapped[str | None] = mapped_column(String(POOL_LEN))
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    exit_reason: Mapped[str | None] = mapped_column(String(1000))
    error: Mapped[str | None] = mapped_column(Text)
    log_location: Mapped[str | None] = mapped_column(String(PATH_LEN))


class XCom(Base):
    __tablename__ = "xcoms"
    __table_args__ = (
        # Pulling one value, and all values of a run (prefix dag_run_id).
        UniqueConstraint("dag_run_id", "task_id", "map_index", "key"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dag_run_id: Mapped[int] = mapped_column(BigId, ForeignKey("dag_runs.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    key: Mapped[str] = mapped_column(String(512))
    value: Mapped[Any] = mapped_column(Json, nullable=True)


class TaskMap(Base):
    """How many elements an upstream's XCom has, for mapped tasks that expand over it."""

    __tablename__ = "task_maps"

    dag_run_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("dag_runs.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    # None: the value was not a list or dict (the mapped task fails without running).
    length: Mapped[int | None] = mapped_column(Integer)


class Pool(Base):
    __tablename__ = "pools"

    name: Mapped[str] = mapped_column(String(POOL_LEN), primary_key=True)
    # -1: unlimited (as in Airflow).
    slots: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class Variable(Base):
    __tablename__ = "variables"

    key: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    # Fernet ciphertext; see store.secrets.
    value: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)


class Connection(Base):
    __tablename__ = "connections"

    conn_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    conn_type: Mapped[str] = mapped_column(String(500))
    host: Mapped[str | None] = mapped_column(String(500))
    schema: Mapped[str | None] = mapped_column(String(500))
    login: Mapped[str | None] = mapped_column(Text)
    port: Mapped[int | None] = mapped_column(Integer)
    # Fernet ciphertexts (extra: of a JSON object); see store.secrets.
    password: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)


class ParseImportError(Base):
    """The error that importing one DAG file raised (at most one per file)."""

    __tablename__ = "import_errors"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Unique: replacing a file's error is an upsert on fileloc.
    fileloc: Mapped[str] = mapped_column(String(PATH_LEN), unique=True)
    error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Job(Base):
    """One long-running component process (scheduler, DAG processor, ...) and its heartbeat."""

    __tablename__ = "jobs"
    __table_args__ = (
        # Health checks and HA: live jobs of a type by latest heartbeat.
        Index(None, "job_type", "state", "heartbeat_at"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_type: Mapped[JobType] = mapped_column(StrEnumType(JobType, 30))
    hostname: Mapped[str] = mapped_column(String(1000))
    pid: Mapped[int] = mapped_column(Integer)
    state: Mapped[JobState] = mapped_column(StrEnumType(JobState), default=JobState.RUNNING)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A scheduler's executor runs tries that go on without it (remote workers heartbeating
    # on their own): when the job dies, its running tries are left to the zombie reaper.
    tries_outlive: Mapped[bool] = mapped_column(Boolean, default=False)


class Role(enum.StrEnum):
    """What a user may do; each role may do everything the roles before it may."""

    VIEWER = "viewer"
    USER = "user"
    OP = "op"
    ADMIN = "admin"


class TokenKind(enum.StrEnum):
    #: From ``POST /api/v1/auth/token``: short-lived.
    LOGIN = "login"
    #: From ``gnomon tokens create`` or the admin API: long-lived.
    API = "api"
    #: The UI's session cookie.
    SESSION = "session"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Unique: login looks a user up by name.
    username: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    # argon2id, in the PHC string format (parameters and salt included).
    password_hash: Mapped[str] = mapped_column(String(500))
    role: Mapped[Role] = mapped_column(StrEnumType(Role))
    teams: Mapped[list[str]] = mapped_column(Json, default=lambda: [])
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApiToken(Base):
    """A bearer token or UI session. Only the SHA-256 of its secret is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        # Listing a user's tokens (and revoking them with the user).
        Index(None, "user_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    # Unique: every authenticated request looks its token up by this hash.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[TokenKind] = mapped_column(StrEnumType(TokenKind))
    name: Mapped[str | None] = mapped_column(String(ID_LEN))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # None: never expires (long-lived tokens created without --expires).
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditEntry(Base):
    """One mutating request: who did what to which object, when, and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (
        # The audit page: newest first, optionally of one user.
        Index(None, "created_at"),
        Index(None, "username", "created_at"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Names, not foreign keys: the record outlives deleted users.
    username: Mapped[str | None] = mapped_column(String(ID_LEN))
    action: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(PATH_LEN))
    status_code: Mapped[int] = mapped_column(Integer)
    dag_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=lambda: {})
    remote_addr: Mapped[str | None] = mapped_column(String(100))
