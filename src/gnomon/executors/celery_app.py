"""The Celery application both sides build from the same settings: the scheduler publishes
``run_try`` and ``run_tries`` messages with it, ``gnomon worker`` consumes them.

Celery only carries messages here. A try's state lives in Gnomon's database, reported by the
worker through the execution API, so there is no result backend. What makes a worker dying
or a broker restarting safe:

- **Late acknowledgement** (``task_acks_late``, one message prefetched per process): a message
  is acknowledged after its tries ran. A worker killed before it claimed the try leaves the
  message unacknowledged, and the broker delivers it to another worker.
- **Idempotent starts**: a worker's first act is to claim the try through the execution API
  (``queued -> running``, which one caller wins). A message delivered twice (a worker lost
  after the claim, a broker restart) finds the try claimed and is dropped, so a try never runs
  twice.
- **No redelivery of running tries on Redis**: Redis gives back messages unacknowledged for
  longer than its visibility timeout, long tasks' included; workers renew the messages of the
  tries they run (``executors.redis_leases``), so a long task's message stays with it.
- **The database notices the rest**: a claimed try whose worker died stops heartbeating and is
  failed as a zombie (and retried); a try whose message was lost (a Redis without persistence
  restarted) is taken back after ``task_queued_timeout`` and queued again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from celery.app.base import Celery

#: The Celery task that runs one try (name only: the scheduler never imports the worker side).
RUN_TRY = "gnomon.run_try"
#: The Celery task that runs several tries, one after another (``tries``: a list of
#: ``run_try``'s keyword arguments).
RUN_TRIES = "gnomon.run_tries"
DEFAULT_QUEUE = "default"


def send_tries(app: Celery, tries: Sequence[Mapping[str, Any]], queue: str) -> None:
    """Publish ``tries`` (``run_try``'s keyword arguments each) on ``queue``: alone as a
    ``run_try`` message, several as one ``run_tries``."""
    # What Celery shows of the arguments (its events, `celery inspect`), given here: Celery
    # would otherwise build a safe repr of every workload, tokens included, for each message
    # (a tenth of a scheduler's time under a fan-out).
    shown = {"argsrepr": "()", "kwargsrepr": _shown(tries)}
    if len(tries) == 1:
        app.send_task(RUN_TRY, kwargs=dict(tries[0]), queue=queue, **shown)
    else:
        app.send_task(RUN_TRIES, kwargs={"tries": list(tries)}, queue=queue, **shown)


def _shown(tries: Sequence[Mapping[str, Any]]) -> str:
    ids = [str(each["workload"]["try_id"]) for each in tries]
    return f"{{'tries': [{', '.join(ids)}]}}" if len(ids) > 1 else f"{{'try': {ids[0]}}}"


def is_redis(broker_url: str) -> bool:
    return broker_url.startswith(("redis://", "rediss://", "redis+socket://"))


def make_app(
    broker_url: str, *, visibility_timeout: float = 600.0, socket_timeout: float = 30.0
) -> Celery:
    app = Celery("gnomon", broker=broker_url, set_as_current=False)
    options: dict[str, Any] = {}
    if is_redis(broker_url):
        # Unacknowledged messages come back after this long, except those of running tries,
        # which workers renew (executors.redis_leases). It may be short: it brings back the
        # messages of a worker that died, and those prefetched by a busy one.
        options["visibility_timeout"] = visibility_timeout
        # redis-py waits forever by default: a Redis cut off without a reset (a network
        # partition, a host gone) would hang a publish or an acknowledgement for good. An
        # error instead is retried on a new connection (AMQP has its heartbeats for this).
        options["socket_timeout"] = socket_timeout
        options["socket_connect_timeout"] = socket_timeout
    app.conf.update(
        broker_connection_retry_on_startup=True,
        # A worker never gives up on a broker that is away (Celery's default stops it after
        # 100 attempts, about 50 minutes); the scheduler's publisher retries on its own.
        broker_connection_max_retries=None,
        broker_transport_options=options,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        # A pool process killed mid-try: give the message back (its try, if claimed, is then
        # refused at the claim and retried by the zombie sweep).
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=DEFAULT_QUEUE,
        task_create_missing_queues=True,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 5,
            "interval_start": 0.0,
            "interval_step": 0.2,
            "interval_max": 1.0,
        },
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_heartbeat=10,
    )
    return app
