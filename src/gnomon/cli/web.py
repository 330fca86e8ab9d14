"""``gnomon api``: the REST API and the web UI."""

from __future__ import annotations

from datetime import timedelta

import click
import uvicorn

from gnomon import settings as settings_module
from gnomon.api.app import create_app
from gnomon.api.config import ApiConfig
from gnomon.cli import database, logging_setup
from gnomon.cli.common import load_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def serve(settings: settings_module.Settings, host: str, port: int) -> None:
    """Serve the API and UI until SIGINT/SIGTERM (uvicorn stops gracefully on both)."""
    logging_setup.configure(settings)
    # A connection per thread: with fewer, requests beyond the pool's size open and close
    # connections of their own (a Postgres backend started and ended each time).
    with database.engine(settings, pool_size=settings.api_threads) as engine:
        config = ApiConfig(
            engine=engine,
            home=settings.home,
            logs_folder=settings.logs_folder(),
            cipher=database.cipher(settings),
            token_lifetime=timedelta(hours=settings.api_token_lifetime_hours),
            session_lifetime=timedelta(hours=settings.ui_session_lifetime_hours),
            secure_cookies=settings.secure_cookies,
            execution_key=database.execution_key(settings),
            execution_token_lifetime=settings.execution_token_lifetime,
            task_heartbeat_timeout=settings.task_heartbeat_timeout,
            xcom_max_bytes=settings.xcom_max_bytes,
            log_storage_options=settings.log_storage_options,
            threads=settings.api_threads,
        )
        uvicorn.run(
            create_app(config),
            host=host,
            port=port,
            log_level="info",
            access_log=False,
            # C parser and loop (dependencies): h11 and asyncio's own loop cost more CPU
            # per request than the execution API's endpoints themselves.
            http="httptools",
            loop="uvloop",
            log_config=logging_setup.uvicorn_config(settings),
        )


@click.command("api")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="The address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
def api_command(host: str, port: int) -> None:
    """Serve the REST API (/api/v1), the execution API (/execution/v1), /health and the web UI."""
    serve(load_settings(), host, port)
