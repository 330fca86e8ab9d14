"""``gnomon worker``: a Celery worker that runs tries, with no database settings at all.

It needs the broker (``GNOMON_BROKER_URL``) and the execution API
(``GNOMON_EXECUTION_API_URL``); everything a try needs (its DAG's files, upstream XComs) comes
from the API, everything it reports goes there.
"""

from __future__ import annotations

import socket
import sys
import threading

import click

from gnomon import metrics
from gnomon.cli import logging_setup, monitoring
from gnomon.cli.common import CliError, load_settings
from gnomon.executors.celery_worker import WorkerConfig, build_app, default_name, keep_running
from gnomon.executors.remote import RunnerConfig
from gnomon.runtime.log_server import LogServer
from gnomon.runtime.logstore import LogStore
from gnomon.settings import env_var


def _queues(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise click.BadParameter("name at least one queue, e.g. --queues default,etl")
    return names


@click.command("worker")
@click.option(
    "--queues",
    "-q",
    default="default",
    show_default=True,
    help="Comma-separated queues to take tries from (a task's `queue` routes it).",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 4096),
    default=None,
    help="Tries run at once (warm pool processes). Default: the parallelism setting.",
)
@monitoring.metrics_port_option()
@click.option(
    "--log-server-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve running tries' logs to the API on this port "
    "(default: the worker_log_server_port setting).",
)
@click.option(
    "--tries-per-process",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="Tries a pool process runs in one forked try process before replacing it "
    "(default: the worker_tries_per_process setting; 1: a fresh process per try).",
)
@click.option("--name", default=None, help="This worker's name (default: gnomon@HOST-PID).")
def worker_command(
    queues: str,
    concurrency: int | None,
    metrics_port: int | None,
    log_server_port: int | None,
    tries_per_process: int | None,
    name: str | None,
) -> None:
    """Run a Celery worker that runs tries from the broker until Ctrl-C or SIGTERM.

    On SIGTERM it takes no new tries and gives running ones the shutdown grace to finish; the
    rest are killed and retried elsewhere without using up a retry."""
    settings = load_settings()
    missing = [
        env_var(setting)
        for setting, value in (
            ("broker_url", settings.broker_url),
            ("execution_api_url", settings.execution_api_url),
        )
        if not value
    ]
    if missing:
        raise CliError(f"gnomon worker needs {' and '.join(missing)} (see docs/deploy.md)")
    assert settings.broker_url is not None and settings.execution_api_url is not None
    logging_setup.configure(settings)
    queue_names = _queues(queues)
    hostname = settings.worker_hostname or socket.gethostname()
    logs_folder = settings.logs_folder()
    logs_folder.mkdir(parents=True, exist_ok=True)
    port = settings.worker_log_server_port if log_server_port is None else log_server_port
    log_server = LogServer(logs_folder, "0.0.0.0", port, hostname)
    log_server.start()
    store = LogStore(settings.log_url, logs_folder, settings.log_storage_options)
    from celery.worker import state as celery_state

    metrics.WORKER_TRIES_RUNNING.set_function(lambda: len(celery_state.active_requests))
    monitoring.serve_metrics(settings, metrics_port)
    worker_name = name or default_name()
    config = WorkerConfig(
        broker_url=settings.broker_url,
        runner=RunnerConfig(
            api_url=settings.execution_api_url,
            logs_folder=logs_folder,
            cache_folder=settings.home / "cache",
            worker=worker_name,
            hostname=hostname,
            kill_grace=settings.kill_grace,
            xcom_max_bytes=settings.xcom_max_bytes,
            live_location=log_server.url_for,
            # Uploaded to log_url if set; else the log server goes on serving it.
            upload=lambda relpath: store.store_finished(
                relpath, fallback=log_server.url_for(relpath)
            ),
            # A try must not hold the log server's socket.
            close_in_child=(log_server.fileno(),),
            bundle_retention=settings.worker_bundle_retention_days * 86400,
            tries_per_process=tries_per_process or settings.worker_tries_per_process,
            hand_back_after=settings.worker_hand_back_after,
        ),
        shutdown_grace=settings.shutdown_grace,
        visibility_timeout=settings.broker_visibility_timeout,
        socket_timeout=settings.broker_socket_timeout,
    )
    stopping = threading.Event()
    app = build_app(config, stopping)
    click.echo(
        f"Gnomon worker {worker_name}: queues {','.join(queue_names)}, concurrency "
        f"{concurrency or settings.parallelism}, logs served on port {log_server.port}",
        err=True,
    )

    def start() -> int:
        worker = app.Worker(
            hostname=worker_name,
            queues=queue_names,
            concurrency=concurrency or settings.parallelism,
            pool="prefork",
            loglevel="INFO",
            without_gossip=True,
            without_mingle=True,
            without_heartbeat=True,
            optimization="fair",
        )
        worker.start()
        return int(worker.exitcode or 0)

    try:
        code = keep_running(start, stopping)
    finally:
        log_server.stop()
    sys.exit(code)
