"""``--metrics-port``: where a long-running command (scheduler, DAG processor, worker) serves
its Prometheus metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gnomon import metrics
from gnomon import settings as settings_module
from gnomon.cli.common import CliError

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__name__)


def metrics_port_option() -> Callable[[F], F]:
    """``--metrics-port``; the command receives ``metrics_port: int | None``."""
    return click.option(
        "--metrics-port",
        type=click.IntRange(0, 65535),
        default=None,
        help="Serve Prometheus metrics on this port (all addresses), at /metrics; 0: off. "
        "[default: GNOMON_METRICS_PORT, else off]",
    )


def serve_metrics(settings: settings_module.Settings, option: int | None) -> int | None:
    """Serve this process's metrics on the port of ``--metrics-port``, else of the
    ``metrics_port`` setting; nothing if neither is set or it is 0 (a random port would be
    of no use to Prometheus). The port served, if any."""
    port = option if option is not None else settings.metrics_port
    if not port:
        return None
    try:
        metrics.serve(port)
    except OSError as exc:
        raise CliError(f"cannot serve metrics on port {port}: {exc.strerror or exc}") from None
    log.info("Prometheus metrics at http://0.0.0.0:%d/metrics", port)
    return port
