"""Private Redis, RabbitMQ and Postgres servers for fault tests, which stop and start them.

The shared services are never stopped: a fault test starts its own server on free ports with
its data in a folder of its own, stops it (gracefully, or with SIGKILL) and starts it again
on the same port and data, and stops it for good at the end, by the PID it started.

Fixtures (``tests/integration/conftest.py``): ``private_redis``, ``private_rabbitmq``,
``private_postgres``. A missing binary skips the test (fails it when ``CI=true``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg
import redis
from kombu.connection import Connection
from psycopg import sql

from support.cluster import broker_reachable
from support.processes import eventually
from support.standalone import free_ports

#: Where Debian puts RabbitMQ's scripts (``/usr/sbin/rabbitmq-server`` is a wrapper that
#: switches to the rabbitmq user, losing the environment that makes a node private).
RABBITMQ_BIN = Path(os.environ.get("GNOMON_TEST_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
POSTGRES_ROOT = Path("/usr/lib/postgresql")


class ServiceUnavailable(Exception):
    """The server's binaries are not installed, or it does not start."""


class _Server:
    """A server process started by the test, in its own session (so its children, if any,
    die with it), with its output in ``log``."""

    name = "server"

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _spawn(self, args: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                list(args),
                env=None if env is None else {**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self, ready: bool) -> None:
        if not ready:
            self.stop(kill=True)
            raise ServiceUnavailable(f"{self.name} did not start:\n{_tail(self.log)}")

    def stop(self, *, kill: bool = False, timeout: float = 30) -> None:
        """SIGTERM (a clean shutdown) or SIGKILL; returns once the process is gone."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def close(self) -> None:
        self.stop(kill=True)


class PrivateRedis(_Server):
    """``redis-server`` on a free port, keeping nothing on disk (``--save ""``, no AOF): a
    restart loses every message, the worst case a broker restart can be."""

    name = "redis-server"

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailable("redis-server is not installed (package redis-server)")
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root / "redis.log")
        self.binary = binary
        self.root = root
        [self.port] = free_ports(1)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, startup: float = 30) -> None:
        self._spawn(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ]
        )
        self._wait_ready(eventually(self._answers, startup))

    def _answers(self) -> bool:
        try:
            return bool(self._client().ping())
        except redis.RedisError:
            return False

    def queued(self, queue: str) -> int:
        """Messages waiting in ``queue`` (kombu keeps a queue as a Redis list of its name)."""
        return int(self._client().llen(queue))

    def sweep_unacked(self, visibility_timeout: float) -> None:
        """Give back to their queues the messages taken longer than ``visibility_timeout``
        ago and not acknowledged, as any consumer's periodic sweep does (kombu's)."""
        options = {"visibility_timeout": visibility_timeout}
        with Connection(self.url, transport_options=options) as connection:  # type: ignore[no-untyped-call]
            connection.default_channel.qos.restore_visible(num=1000)

    def _client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1)


class PrivateRabbitMQ(_Server):
    """A RabbitMQ node of its own (``gnomon-<port>@localhost``), in the foreground, with its
    database, logs, config, plugins list and Erlang cookie under ``root``. Its queues and
    persistent messages survive a clean stop, as on a production node."""

    name = "rabbitmq-server"

    def __init__(self, root: Path) -> None:
        if not (RABBITMQ_BIN / "rabbitmq-server").exists():
            raise ServiceUnavailable(
                f"no rabbitmq-server in {RABBITMQ_BIN} (package rabbitmq-server; "
                "GNOMON_TEST_RABBITMQ_BIN names another folder)"
            )
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root / "rabbitmq.log")
        self.root = root
        self.port, dist_port = free_ports(2)
        self.node = f"gnomon-{self.port}@localhost"
        home = root / "home"
        home.mkdir(exist_ok=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(f"gnomon-test-{self.port}")
        cookie.chmod(0o400)
        (root / "enabled_plugins").write_text("[].\n")
        (root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (root / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's (its node name)
        self.env = {
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(root / "log"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_PID_FILE": str(root / "rabbitmq.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(root / "rabbitmq-env.conf"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, startup: float = 90) -> None:
        self._spawn([str(RABBITMQ_BIN / "rabbitmq-server")], self.env)
        self._wait_ready(eventually(self._answers, startup))

    def _answers(self) -> bool:
        if not self.running:
            return False
        return broker_reachable(self.url) is None

    def queued(self, queue: str) -> int:
        """Messages ready in ``queue`` (not those delivered and not yet acknowledged)."""
        with Connection(self.url, connect_timeout=3) as connection:  # type: ignore[no-untyped-call]
            declared = connection.default_channel.queue_declare(queue, passive=True)
        return int(declared.message_count)

    def stop(self, *, kill: bool = False, timeout: float = 60) -> None:
        """``rabbitmqctl stop`` (the node closes its connections and keeps its queues), or
        SIGKILL."""
        if not kill and self.running:
            subprocess.run(
                [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, "stop"],
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        super().stop(kill=kill, timeout=timeout)


class PrivatePostgres:
    """A Postgres cluster of its own on a free port (loopback only, ``fsync=off``), run as
    the ``postgres`` user when the tests run as root (Postgres refuses root), with its data
    in a folder that user owns. ``stop(kill=False)`` is a fast shutdown (clients are
    disconnected), ``kill=True`` an immediate one (a crash: recovery at the next start)."""

    def __init__(self) -> None:
        bindir = _postgres_bindir()
        if bindir is None:
            raise ServiceUnavailable(f"no Postgres server binaries under {POSTGRES_ROOT}")
        self.bindir = bindir
        # Not under pytest's tmp_path: its parents are private to root.
        self.root = Path(tempfile.mkdtemp(prefix="gnomon-postgres-"))
        self.root.chmod(0o700)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.log = self.root / "postgres.log"
        self.data = self.root / "data"
        [self.port] = free_ports(1)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, startup: float = 60) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        data, log, wait = str(self.data), str(self.log), str(int(startup))
        self._run("pg_ctl", "start", "-D", data, "-l", log, "-w", "-t", wait, "-o", options)

    def stop(self, *, kill: bool = False) -> None:
        if (self.data / "postmaster.pid").exists():
            mode = "immediate" if kill else "fast"
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", check=False)

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str) -> str:
        """A new database; its SQLAlchemy URL."""
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def close(self) -> None:
        self.stop(kill=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [str(self.bindir / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False, cwd=self.root
        )
        if check and result.returncode != 0:
            raise ServiceUnavailable(
                f"{program} failed ({result.returncode}): {result.stdout}{result.stderr}\n"
                f"{_tail(self.log)}"
            )


def _postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` and ``pg_ctl``."""
    found = [
        path.parent
        for path in POSTGRES_ROOT.glob("*/bin/pg_ctl")
        if (path.parent / "initdb").exists()
    ]
    versions = [p for p in found if p.parent.name.isdigit()]
    return max(versions, key=lambda p: int(p.parent.name), default=None)


def _tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])
