"""``gnomon scheduler`` and ``gnomon standalone``: the long-running processes."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

import click
from sqlalchemy import Engine

from gnomon import settings as settings_module
from gnomon.cli import database, logging_setup, monitoring
from gnomon.cli.common import CliError, Common, common_options
from gnomon.dag_processor import processor as dag_processing
from gnomon.executors.base import Executor
from gnomon.executors.celery import CeleryExecutor
from gnomon.executors.local import LocalExecutor
from gnomon.runtime import lifeline
from gnomon.scheduler.exceptions import DeclaredDead
from gnomon.scheduler.loop import Scheduler, SchedulerConfig
from gnomon.store import db as store_db
from gnomon.store import exceptions, schema, users
from gnomon.store.models import JobType, Role

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD_FILE = "standalone_admin_password.txt"


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        click.echo(
            f"\n{signal.Signals(signum).name}: stopping (running tries get up to the shutdown "
            "grace to finish; again to stop at once)",
            err=True,
        )
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _scheduler(
    settings: settings_module.Settings, engine: Engine, dags_folder: Path, job_type: JobType
) -> Scheduler:
    """The scheduler and its local executor. ``engine`` need not pre-ping: the loop retries a
    pass that lost its connection."""
    executor = _executor(settings)
    config = SchedulerConfig(
        home=settings.home,
        dags_folder=dags_folder,
        logs_folder=settings.logs_folder(),
        heartbeat_timeout=settings.task_heartbeat_timeout,
        poll_interval=settings.scheduler_poll_interval,
        shutdown_grace=settings.shutdown_grace,
        kill_grace=settings.kill_grace,
        job_type=job_type,
        task_queued_timeout=settings.task_queued_timeout,
    )
    return Scheduler(store_db.session_factory(engine), executor, config)


def _executor(settings: settings_module.Settings) -> Executor:
    """The executor the settings name: local warm processes, or Celery workers."""
    if settings.executor == "celery":
        if not settings.broker_url:
            raise CliError(
                "GNOMON_EXECUTOR=celery needs GNOMON_BROKER_URL (redis://... or amqp://...)"
            )
        return CeleryExecutor(
            broker_url=settings.broker_url,
            token_key=database.execution_key(settings),
            queued_timeout=settings.task_queued_timeout,
            visibility_timeout=settings.broker_visibility_timeout,
            socket_timeout=settings.broker_socket_timeout,
            tries_per_message=settings.celery_tries_per_message,
        )
    try:
        return LocalExecutor(
            parallelism=settings.parallelism,
            db_url=settings.database_url(),
            kill_grace=settings.kill_grace,
            xcom_max_bytes=settings.xcom_max_bytes,
            logs_folder=settings.logs_folder(),
            log_url=settings.log_url,
            log_storage_options=settings.log_storage_options,
        )
    except (ValueError, ImportError) as exc:  # fsspec: an unknown protocol, a missing package
        raise CliError(f"log_url {settings.log_url!r} (GNOMON_LOG_URL): {exc}") from None


def _run(scheduler: Scheduler, stop: threading.Event) -> None:
    try:
        scheduler.run(stop)
    except (exceptions.StoreError, DeclaredDead) as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        scheduler.executor.stop(0)
        raise CliError("stopped at once: running tries were killed") from None


@click.command("scheduler")
@monitoring.metrics_port_option()
@common_options()
def scheduler_command(common: Common, metrics_port: int | None) -> None:
    """Run the scheduler and its local executor until Ctrl-C or SIGTERM."""
    logging_setup.configure(common.settings)
    monitoring.serve_metrics(common.settings, metrics_port)
    with database.engine(common.settings, pre_ping=False) as engine:
        scheduler = _scheduler(common.settings, engine, common.dags_folder, JobType.SCHEDULER)
        _run(scheduler, _stop_on_signals())


@click.command("standalone")
@click.option("--host", default="127.0.0.1", show_default=True, help="The API/UI address.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help="The API/UI port.",
)
@common_options()
def standalone(common: Common, host: str, port: int) -> None:
    """Migrate the database, then run the DAG processor, the scheduler with its local
    executor, and the API and web UI together until Ctrl-C.

    The first start creates the user ``admin`` with a random password, printed once and kept
    in ``$GNOMON_HOME/standalone_admin_password.txt`` (readable by you only)."""
    logging_setup.configure(common.settings)
    settings = common.settings
    settings.home.mkdir(parents=True, exist_ok=True)
    if not common.dags_folder.is_dir():
        raise CliError(f"the DAGs folder {common.dags_folder} does not exist or is not a folder")
    url = settings.database_url()
    try:
        engine = store_db.make_engine(url, pre_ping=False)
        schema.migrate(engine)
        _initial_sync(engine, common.dags_folder, settings)
        admin_password = _ensure_admin(engine, settings.home)
    except exceptions.StoreError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Gnomon standalone (pid {os.getpid()})", err=True)
    click.echo(f"  database: {store_db.safe_url(url)}", err=True)
    click.echo(f"  DAGs:     {common.dags_folder}", err=True)
    click.echo(f"  logs:     {settings.logs_folder()}", err=True)
    click.echo(f"  executor: local, {settings.parallelism} warm process(es)", err=True)
    click.echo(f"  web UI:   http://{host}:{port}/  (API: /api/v1)", err=True)
    password_file = settings.home / ADMIN_PASSWORD_FILE
    if admin_password is not None:
        click.echo(f"  login:    admin / {admin_password}  (also in {password_file})", err=True)
    else:
        click.echo(f"  login:    admin (password in {password_file})", err=True)
    stop = _stop_on_signals()
    monitoring.serve_metrics(settings, None)
    # The metrics port (if set) is the scheduler's: the DAG processor's is off.
    processor = _start_child(
        ["dag-processor", "--dags-folder", str(common.dags_folder), "--metrics-port", "0"]
    )
    api = _start_child(["api", "--host", host, "--port", str(port)])
    try:
        _run(_scheduler(settings, engine, common.dags_folder, JobType.STANDALONE), stop)
    finally:
        _stop_process(api)
        _stop_process(processor)
        engine.dispose()


def _ensure_admin(engine: Engine, home: Path) -> str | None:
    """Create the user ``admin`` with a random password if there is none; the password, or
    None if the user existed. The password file is written before the user is committed, so
    that a crash cannot leave an admin whose password nobody knows."""
    with store_db.session_factory(engine).begin() as session:
        if users.get_by_name(session, ADMIN_USERNAME) is not None:
            return None
        password = secrets.token_urlsafe(18)
        users.create(session, ADMIN_USERNAME, password, Role.ADMIN)
        path = home / ADMIN_PASSWORD_FILE
        path.unlink(missing_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as f:
            f.write(password + "\n")
    return password


def _initial_sync(engine: Engine, dags_folder: Path, settings: settings_module.Settings) -> None:
    """Pass over the folder once before scheduling, so the first runs need not wait for the
    DAG processor's first pass (which then finds the same versions and bundle)."""
    sessions = store_db.session_factory(engine)
    dag_processing.DagProcessor.from_settings(settings, sessions, dags_folder).run_once()


def _start_child(arguments: list[str]) -> subprocess.Popen[bytes]:
    """``gnomon ARGUMENTS`` as a child that dies with this process."""
    return subprocess.Popen(
        [sys.executable, "-m", "gnomon.cli.main", *arguments], env=lifeline.child_environment()
    )


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
