"""What the API app needs from outside: the database, where logs are (and how to reach a
remote log store), the secret keys, and the timings it tells remote workers.

Built once by the command that serves the app (``gnomon api``, ``gnomon standalone``) or by a
test, and passed in: the app reads no settings of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gnomon.store import db, secrets


@dataclass(frozen=True)
class ApiConfig:
    engine: Engine
    #: ``$GNOMON_HOME``: wake-ups reach the schedulers registered under it.
    home: Path
    logs_folder: Path
    cipher: secrets.Cipher
    #: How long a token from ``POST /auth/token`` lives.
    token_lifetime: timedelta = timedelta(hours=24)
    #: How long a UI session lives.
    session_lifetime: timedelta = timedelta(hours=12)
    #: Mark cookies ``Secure`` (serve the UI over HTTPS, or behind a proxy that does).
    secure_cookies: bool = False
    #: The key execution API tokens are signed with (``cli.database.execution_key``); None:
    #: the execution API answers 503 to everything.
    execution_key: bytes | None = None
    #: Seconds a run token (the answer to a start, and to each heartbeat) stays valid.
    execution_token_lifetime: float = 600.0
    #: Seconds a running try may go without a heartbeat before it is failed as a zombie.
    task_heartbeat_timeout: float = 300.0
    #: The largest XCom value a try may push, told to workers when they start a try.
    xcom_max_bytes: int | None = None
    #: Requests worked on at once: the threads the endpoints run in (anyio's default
    #: limiter). The engine's pool should keep as many connections, or it opens and closes
    #: some for every request while that many run (``cli.web.serve`` sizes it so).
    threads: int = 40
    #: fsspec storage options for logs kept in a remote store (``log_url``, e.g. s3://).
    log_storage_options: Mapping[str, Any] = field(default_factory=dict)
    _readers: sessionmaker[Session] = field(init=False, repr=False)
    _writers: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_readers", db.session_factory(self.engine, read_only=True))
        object.__setattr__(self, "_writers", db.session_factory(self.engine))

    @property
    def heartbeat_interval(self) -> float:
        """How often a remote worker heartbeats its try: a quarter of the zombie timeout,
        bounded as the scheduler bounds its own (``SchedulerConfig.heartbeat_interval``)."""
        return min(max(self.task_heartbeat_timeout / 4, 0.2), 5.0)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (never waits for writers on SQLite)."""
        with self._readers() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one transaction, committed at the end unless the block raises."""
        with self._writers.begin() as session:
            yield session
