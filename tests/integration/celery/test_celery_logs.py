"""A try's log on a Celery worker: read live through the API from the worker's log server
while the try runs, then from a real S3-compatible store once the worker uploaded it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cluster import MakeCluster
from support.s3 import S3Server

from gnomon.semantics.states import RunState

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgres"])]

GATED = """
import time
from datetime import datetime
from pathlib import Path
from gnomon import DAG, task

GATE = Path({gate!r})

with DAG("gated", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task(queue={queue!r})
    def wait():
        print("waiting for the gate", flush=True)
        while not GATE.exists():
            time.sleep(0.05)
        print("through the gate")

    wait()
"""


def test_a_workers_log_is_read_live_then_from_s3_after_upload(
    make_cluster: MakeCluster, s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = s3_server.create_bucket()
    cluster = make_cluster(
        "redis",
        GNOMON_LOG_URL=f"s3://{bucket}/gnomon-logs",
        GNOMON_LOG_STORAGE_OPTIONS=json.dumps(s3_server.storage_options),
    )
    gate = tmp_path / "gate"
    cluster.dags_folder.mkdir(exist_ok=True)
    (cluster.dags_folder / "gated.py").write_text(
        GATED.format(gate=str(gate), queue=cluster.queue("default"))
    )
    cluster.sync_dags()
    cluster.start_api()
    cluster.start_scheduler()
    cluster.start_worker("worker", [cluster.queue("default")], concurrency=1)
    [pk] = cluster.trigger("gated")
    [[run_id]] = cluster.sql("SELECT run_id FROM dag_runs WHERE id = :pk", pk=pk)
    url = f"/api/v1/dags/gated/runs/{run_id}/tasks/wait/tries/1"

    def live_log() -> bool:
        chunk = cluster.api_get(f"{url}/logs", missing_ok=True)  # 404 until the try exists
        return chunk is not None and "waiting for the gate" in chunk["content"]

    cluster.wait_until(live_log, 120, "the running try's log through the API")
    running = cluster.api_get(url)
    assert running["state"] == "running"
    # Read from the worker's log server (shown without its signature), not from S3 yet.
    assert running["log_location"].startswith("http://"), running["log_location"]
    chunk = cluster.api_get(f"{url}/logs")
    assert chunk["complete"] is False
    assert not s3_server.client().list_objects_v2(Bucket=bucket).get("Contents")

    gate.touch()
    assert cluster.wait_runs([pk], timeout=120)[pk] is RunState.SUCCESS, cluster.tail()

    finished = cluster.api_get(url)
    prefix = f"s3://{bucket}/gnomon-logs/"
    assert finished["log_location"].startswith(prefix), finished["log_location"]
    stored = s3_server.get(bucket, finished["log_location"].removeprefix(f"s3://{bucket}/"))
    assert b"through the gate" in stored
    whole = cluster.api_get(f"{url}/logs")
    assert "waiting for the gate" in whole["content"]
    assert "through the gate" in whole["content"]
    assert whole["complete"] is True


def test_a_worker_logs_each_message_it_receives_but_not_each_tasks_success(
    make_cluster: MakeCluster,
) -> None:
    # The try's log and the database say how each try ended; Celery's line per success was
    # CPU spent per try for nothing. (A message per try here, to count them.)
    cluster = make_cluster("redis", GNOMON_CELERY_TRIES_PER_MESSAGE="1")
    [queue] = cluster.write_dag("two", tasks=2)
    cluster.sync_dags()
    cluster.start_api()
    cluster.start_scheduler()
    worker = cluster.start_worker("worker", [queue], concurrency=1)
    [pk] = cluster.trigger("two")
    assert cluster.wait_runs([pk], timeout=120)[pk] is RunState.SUCCESS, cluster.tail()

    assert worker.output().count("received") == 2
    assert "succeeded in" not in worker.output()
