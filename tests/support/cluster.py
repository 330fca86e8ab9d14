"""Gnomon in production mode, as separate processes on one machine: Postgres, the API (with
the execution API), one or more schedulers with the Celery executor, the DAG processor run
once, and Celery workers that have no database settings at all (their own GNOMON_HOME, only
the broker and the execution API's URL).

Each test gets its own Postgres database and its own queue names (``Cluster.queue(name)``),
so tests sharing the Redis and RabbitMQ servers do not take each other's messages.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import redis
from cryptography.fernet import Fernet
from kombu.connection import Connection
from sqlalchemy import Engine, func, select, text

from gnomon.events import wakeups
from gnomon.scheduler import creation
from gnomon.scheduler.versions import VersionCache
from gnomon.semantics.states import RunState
from gnomon.store import db, models, tokens, users
from gnomon.store.models import Role, TokenKind
from support.cli import gnomon
from support.cluster_dags import psycopg_dsn, write_wide_dag
from support.processes import eventually, is_gone
from support.standalone import free_port

REDIS_URL = os.environ.get("GNOMON_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("GNOMON_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
BROKERS = {"redis": REDIS_URL, "rabbitmq": RABBITMQ_URL}


def broker_reachable(url: str) -> str | None:
    """None if the broker answers, else why not."""
    try:
        with Connection(url, connect_timeout=3) as connection:  # type: ignore[no-untyped-call]
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass(frozen=True)
class TryRow:
    run_id: str
    task_id: str
    try_number: int
    state: str
    exit_reason: str | None
    worker: str | None
    job_id: int | None


@dataclass(frozen=True)
class JobRow:
    id: int
    state: str
    heartbeat_at: datetime


class Component:
    def __init__(self, name: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Cluster:
    def __init__(
        self,
        root: Path,
        db_url: str,
        broker_url: str,
        dags_folder: Path,
        *,
        env: Mapping[str, str] | None = None,
        effects_url: str | None = None,
    ) -> None:
        self.root = root
        self.db_url = db_url
        #: The database of the tasks' side effects (``cluster_dags``): the metadata one unless
        #: the test restarts that.
        self.effects_url = effects_url or db_url
        self.broker_url = broker_url
        self.dags_folder = dags_folder
        self.suffix = uuid.uuid4().hex[:8]
        self.secret_key = Fernet.generate_key().decode()
        self.api_port = free_port()
        self.components: list[Component] = []
        self.queues_used: set[str] = set()
        self.engine: Engine = db.make_engine(db_url)
        self._admin_token: str | None = None
        #: Settings every component shares (workers take only the broker and API parts).
        self.env: dict[str, str] = {
            "GNOMON_DAGS_ARE_PAUSED_AT_CREATION": "false",
            "GNOMON_TASK_HEARTBEAT_TIMEOUT": "6",
            "GNOMON_SHUTDOWN_GRACE": "3",
            "GNOMON_KILL_GRACE": "2",
            "GNOMON_BROKER_VISIBILITY_TIMEOUT": "600",
            **(env or {}),
        }

    # -- names ------------------------------------------------------------------------------
    def queue(self, name: str) -> str:
        """A queue name of this test only."""
        queue = f"{name}-{self.suffix}"
        self.queues_used.add(queue)
        return queue

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    # -- starting ---------------------------------------------------------------------------
    def _spawn(self, name: str, args: Iterable[str], env: Mapping[str, str]) -> Component:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
        log = self.root / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "gnomon.cli.main", *args],
                env={**clean, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        component = Component(name, process, log)
        self.components.append(component)
        return component

    def control_env(self, name: str) -> dict[str, str]:
        """The settings of a control-plane component (it has the database and the key)."""
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        return {
            **self.env,
            "GNOMON_HOME": str(home),
            "GNOMON_DB_URL": self.db_url,
            "GNOMON_SECRET_KEY": self.secret_key,
            "GNOMON_DAGS_FOLDER": str(self.dags_folder),
            "GNOMON_EXECUTOR": "celery",
            "GNOMON_BROKER_URL": self.broker_url,
        }

    def write_dag(
        self, dag_id: str, *, tasks: int, queues: list[str] | None = None, **options: Any
    ) -> list[str]:
        """A wide DAG (``cluster_dags.write_wide_dag``) whose tasks record their side effects
        in the effects database, on ``queues`` (else this test's queue ``default``); the
        queues."""
        names = queues or [self.queue("default")]
        dsn = psycopg_dsn(self.effects_url)
        write_wide_dag(self.dags_folder, dag_id, tasks=tasks, queues=names, dsn=dsn, **options)
        return names

    def sync_dags(self) -> None:
        result = gnomon(
            self.root / "processor", "dag-processor", "--once", env=self.control_env("processor")
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def start_dag_processor(self, name: str = "dag-processor") -> Component:
        """The DAG processor as a service (``sync_dags`` runs it once)."""
        env = {"GNOMON_DAG_DIR_LIST_INTERVAL": "1", **self.control_env(name)}
        return self._spawn(name, ["dag-processor"], env)

    def start_api(self) -> Component:
        api = self._spawn("api", ["api", "--port", str(self.api_port)], self.control_env("api"))
        self.wait_until(self.api_healthy, 30, "the API to answer /health")
        return api

    def api_healthy(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def api_get(self, path: str, *, missing_ok: bool = False, **params: Any) -> Any:
        """GET ``path`` on the public API as an admin: the JSON answer (asserts a 200; with
        ``missing_ok``, None for a 404)."""
        if self._admin_token is None:
            with db.session_factory(self.engine).begin() as session:
                user = users.create(
                    session, f"admin-{self.suffix}", secrets.token_hex(8), Role.ADMIN
                )
                self._admin_token, _ = tokens.issue(
                    session, user.id, TokenKind.API, expires_at=None
                )
        response = httpx.get(
            f"{self.api_url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self._admin_token}"},
            timeout=30,
        )
        if missing_ok and response.status_code == 404:
            return None
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def start_scheduler(self, name: str = "scheduler", **env: str) -> Component:
        return self._spawn(name, ["scheduler"], {**self.control_env(name), **env})

    def worker_env(self, name: str) -> dict[str, str]:
        """A worker's settings: no database, no secret key."""
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        return {
            key: value
            for key, value in {
                **self.env,
                "GNOMON_HOME": str(home),
                "GNOMON_BROKER_URL": self.broker_url,
                "GNOMON_EXECUTION_API_URL": f"{self.api_url}/execution/v1",
                "GNOMON_WORKER_LOG_SERVER_PORT": "0",
            }.items()
            if key not in ("GNOMON_DB_URL", "GNOMON_SECRET_KEY")
        }

    def start_worker(
        self, name: str, queues: Iterable[str], *, concurrency: int = 2, **env: str
    ) -> Component:
        args = ["worker", "--queues", ",".join(queues), "--concurrency", str(concurrency)]
        return self._spawn(
            name, [*args, "--name", f"{name}-{self.suffix}"], {**self.worker_env(name), **env}
        )

    # -- runs -------------------------------------------------------------------------------
    def trigger(
        self, dag_id: str, count: int = 1, conf: Mapping[str, Any] | None = None
    ) -> list[int]:
        """Create ``count`` manual runs of ``dag_id`` in one transaction; their pks."""
        cache = VersionCache()
        now = datetime.now(UTC)
        pks: list[int] = []
        with db.session_factory(self.engine).begin() as session:
            for i in range(count):
                run = creation.trigger(
                    session,
                    cache,
                    dag_id,
                    now=now,
                    conf=conf or {},
                    # A logical date per run: a DAG has one run per logical date.
                    logical_date=now - timedelta(seconds=i),
                    run_id=f"r{i}-{secrets.token_hex(3)}",
                )
                pks.append(run.id)
            wakeups.announce(session)
        return pks

    def run_states(self, pks: Iterable[int]) -> dict[int, RunState]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(models.DagRun.id, models.DagRun.state).where(models.DagRun.id.in_(list(pks)))
            ).all()
        return {pk: state for pk, state in rows}

    def wait_runs(self, pks: list[int], timeout: float) -> dict[int, RunState]:
        finished = {RunState.SUCCESS, RunState.FAILED}
        self.wait_until(
            lambda: all(s in finished for s in self.run_states(pks).values()),
            timeout,
            f"{len(pks)} runs to finish",
        )
        return self.run_states(pks)

    def count(self, statement: Any) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(statement).scalar_one())

    def tries_in(self, states: Iterable[str]) -> int:
        return self.count(
            select(func.count())
            .select_from(models.TaskTry)
            .where(models.TaskTry.state.in_(list(states)))
        )

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as connection:
            return list(connection.execute(text(statement), params).all())

    def job_of(self, component: Component) -> JobRow | None:
        """The newest job the component's process registered (schedulers, DAG processors)."""
        rows = self.sql(
            "SELECT id, state, heartbeat_at FROM jobs WHERE pid = :pid ORDER BY id DESC LIMIT 1",
            pid=component.pid,
        )
        return JobRow(*rows[0]) if rows else None

    def tries_of(self, dag_id: str) -> list[TryRow]:
        """Every try of ``dag_id``'s runs, by run, task and try number."""
        rows = self.sql(
            """
            SELECT ti.run_id, ti.task_id, tr.try_number, tr.state, tr.exit_reason, tr.worker,
                   tr.job_id
            FROM task_tries tr JOIN task_instances ti ON ti.id = tr.task_instance_id
            WHERE ti.dag_id = :dag_id ORDER BY ti.run_id, ti.task_id, tr.try_number
            """,
            dag_id=dag_id,
        )
        return [TryRow(*row) for row in rows]

    def side_effects(self, dag_id: str) -> list[tuple[str, str, int]]:
        """(run id, task id, try number) of every side effect the DAG's tasks recorded."""
        engine = db.make_engine(self.effects_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT run_id, task_id, try_number FROM side_effects "
                        "WHERE dag_id = :dag_id"
                    ),
                    {"dag_id": dag_id},
                ).all()
        finally:
            engine.dispose()
        return [(r[0], r[1], r[2]) for r in rows]

    # -- waiting and stopping -----------------------------------------------------------------
    def wait_until(self, condition: Any, timeout: float, what: str) -> None:
        if not eventually(condition, timeout):
            raise AssertionError(f"timed out waiting for {what}\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        parts = []
        for component in self.components:
            text_ = component.output().splitlines()[-lines:]
            parts.append(f"--- {component.name} (pid {component.pid}) ---\n" + "\n".join(text_))
        return "\n".join(parts)

    def kill9(self, component: Component) -> None:
        os.kill(component.pid, signal.SIGKILL)
        component.process.wait(timeout=10)

    def stop(self, component: Component, timeout: float = 30) -> int:
        if component.alive():
            component.process.send_signal(signal.SIGTERM)
        try:
            return component.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_group(component)
            return component.process.wait()

    @staticmethod
    def _kill_group(component: Component) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(component.pid, signal.SIGKILL)

    def close(self) -> None:
        for component in reversed(self.components):
            if component.alive():
                component.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for component in self.components:
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            self._kill_group(component)
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.process.wait(timeout=5)
            pid = component.pid
            eventually(lambda: is_gone(pid), 5)  # noqa: B023
        self._purge_queues()
        self.engine.dispose()

    def _purge_queues(self) -> None:
        """Delete this test's queues from the broker."""
        if broker_reachable(self.broker_url) is not None:
            return  # a private broker the test stopped: it goes with the test
        if self.broker_url.startswith("redis"):
            client = redis.Redis.from_url(self.broker_url)
            for key in client.scan_iter(f"*{self.suffix}*"):
                client.delete(key)
            client.close()
            return
        with Connection(self.broker_url, connect_timeout=3) as connection:  # type: ignore[no-untyped-call]
            channel = connection.channel()
            for name in self.queues_used:
                with contextlib.suppress(Exception):
                    channel.queue_delete(name)


MakeCluster = Callable[..., Cluster]
