"""Prometheus metrics of Gnomon's processes, and the HTTP server that exposes them.

Every metric a process observes itself is defined here, once, in the process-wide registry
of ``prometheus_client``; this module imports nothing of Gnomon's, so every layer may use it.
Counts that live in the metadata database (runs and task instances by state) are not
observed anywhere: the API computes them when it is scraped (``api.metrics``), so they are
right whichever scheduler or worker changed them. ``docs/metrics.md`` lists them all.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.registry import CollectorRegistry

# Buckets: milliseconds matter for passes and hand-offs (the point of an event-driven
# scheduler), hours for tries.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LONG = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0)

SCHEDULER_LOOP_SECONDS = Histogram(
    "gnomon_scheduler_loop_seconds",
    "Duration of one scheduler pass (one transaction: events, runs, planning, queueing).",
    buckets=_FAST,
)
TASK_HOP_SECONDS = Histogram(
    "gnomon_task_hop_seconds",
    "From the end of a task instance's last upstream to the start of its first try.",
    buckets=_FAST,
)
TRY_DURATION_SECONDS = Histogram(
    "gnomon_try_duration_seconds",
    "From a try's start to its end, by the try's final state.",
    ["state"],
    buckets=_LONG,
)
TRIES_STARTED = Counter(
    "gnomon_tries_started",
    "Tries whose start was recorded (queued -> running).",
)
TRIES_ENDED = Counter(
    "gnomon_tries_ended",
    "Tries whose end was recorded, by final state (zombies and timeouts included).",
    ["state"],
)
WORKER_TRIES_RUNNING = Gauge(
    "gnomon_worker_tries_running",
    "Tries running in this worker now.",
)
LOG_UPLOADS = Counter(
    "gnomon_log_uploads",
    "Finished tries' logs copied to the remote log store (log_url), by outcome (ok, failed).",
    ["outcome"],
)


@dataclass(frozen=True, slots=True)
class MetricsServer:
    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The port bound (the chosen one if ``serve`` was given 0)."""
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def serve(
    port: int, host: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY
) -> MetricsServer:
    """Serve ``registry`` in the text exposition format at ``http://host:port/metrics`` (any
    path answers) from a daemon thread, until the process exits or ``stop``."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread)
