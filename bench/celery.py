"""The Celery scenario: production mode as separate processes on this machine (Postgres, a
Redis broker, the API, one or two schedulers with the Celery executor, two workers with no
database settings), measuring a chain's hop latency and a fan-out's throughput.

It drives the same process harness the production-mode tests use (``tests/support/cluster``),
so the benchmark measures exactly what the tests prove correct.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench import cpu, dags, metrics
from bench.harness import BenchError, TryRecord, try_records
from gnomon.semantics.states import RunState
from gnomon.settings import Settings
from gnomon.store import db

TESTS = Path(__file__).resolve().parent.parent / "tests"
TARGET_HOP_MEDIAN_MS = 25.0
TARGET_TASKS_PER_S = 300.0
#: The ``worker_tries_per_process`` setting's default: a fork per try.
DEFAULT_TRIES_PER_PROCESS: int = Settings.model_fields["worker_tries_per_process"].default


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _records(cluster: Any, run_pk: int) -> list[TryRecord]:
    with db.session_factory(cluster.engine, read_only=True)() as session:
        return try_records(session, run_pk)


def _run(cluster: Any, dag_id: str, timeout: float = 600) -> list[TryRecord]:
    [pk] = cluster.trigger(dag_id)
    states = cluster.wait_runs([pk], timeout)
    if states[pk] is not RunState.SUCCESS:
        raise BenchError(f"celery run of {dag_id} ended {states[pk].value}")
    return _records(cluster, pk)


def _cpu(cluster: Any) -> dict[str, float]:
    """CPU seconds so far of the API, the schedulers, the workers (pool processes and tries
    included), the Postgres backends serving the cluster's database and the Redis server."""
    from support.processes import children_of  # on sys.path once measure() has run

    parts: dict[str, float] = {"api": 0.0, "schedulers": 0.0, "workers": 0.0}
    for component in cluster.components:
        part = next(p for p in parts if component.name.startswith(p.rstrip("s")))
        parts[part] += cpu.tree_seconds(component.pid, children_of)
    backends = cluster.sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    parts["database_server"] = cpu.processes_seconds([int(pid) for (pid,) in backends])
    parts["broker_server"] = _redis_seconds(cluster.broker_url)
    return parts


def _calibration(folder: Path) -> dict[str, float]:
    """How fast this machine runs now, beside the fan-out measured just after (or before);
    ``folder``: where the workers write the tries' logs."""
    return {
        "python_ms": cpu.calibration_ms(),
        "wakeup_round_trip_us": cpu.wakeup_round_trip_us(),
        "log_file_create_us": cpu.log_file_create_us(folder),
    }


def _redis_seconds(url: str) -> float:
    """CPU seconds the Redis server has used (all its clients: only this cluster here)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        found = client.info("cpu")
    finally:
        client.close()
    return float(found["used_cpu_sys"]) + float(found["used_cpu_user"])


def measure(
    db_url: str,
    root: Path,
    broker_url: str,
    *,
    schedulers: int,
    chain_length: int,
    chain_runs: int,
    fanout_width: int,
    concurrency: int,
    tries_per_process: int = DEFAULT_TRIES_PER_PROCESS,
) -> dict[str, Any]:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from support.cluster import Cluster

    folder = root / "dags"
    folder.mkdir()
    (folder / "chain.py").write_text(dags.chain(chain_length))
    (folder / "fanout.py").write_text(dags.fanout(fanout_width))
    env = {"GNOMON_WORKER_TRIES_PER_PROCESS": str(tries_per_process)}
    cluster = Cluster(root / "cluster", db_url, broker_url, folder)
    cluster.root.mkdir()
    try:
        cluster.sync_dags()
        cluster.start_api()
        for i in range(schedulers):
            cluster.start_scheduler(f"scheduler-{i + 1}")
        for i in range(2):
            cluster.start_worker(f"worker-{i + 1}", ["default"], concurrency=concurrency, **env)
        began = time.perf_counter()
        _run(cluster, dags.CHAIN_DAG_ID)  # warm-up: pool processes load the DAG
        _say(f"  celery s{schedulers}: warm-up {time.perf_counter() - began:.2f}s")
        chains = [_run(cluster, dags.CHAIN_DAG_ID) for _ in range(chain_runs)]
        _run(cluster, dags.FANOUT_DAG_ID)  # warm-up of the fan-out DAG
        calibrated = [_calibration(cluster.root)]
        before = _cpu(cluster)
        fanned = _run(cluster, dags.FANOUT_DAG_ID)
        after = _cpu(cluster)
        calibrated.append(_calibration(cluster.root))
    finally:
        cluster.close()
    hops = metrics.chain_hops(chains)
    throughput = metrics.fanout_throughput(fanned, "start")
    throughput["cpu_ms_per_try"] = {
        part: round((after[part] - before[part]) * 1000 / len(fanned), 3) for part in after
    }
    throughput["host_calibration"] = {"before": calibrated[0], "after": calibrated[1]}
    kept = tries_per_process != DEFAULT_TRIES_PER_PROCESS
    hop_ms = hops["hop_ms"]
    assert isinstance(hop_ms, dict)
    return {
        "scenario": f"celery_s{schedulers}" + (f"_tpp{tries_per_process}" if kept else ""),
        "parameters": {
            "executor": "celery (Redis broker, Postgres)",
            "schedulers": schedulers,
            "workers": 2,
            "worker_concurrency": concurrency,
            "worker_tries_per_process": tries_per_process,
            "chain": f"{chain_length} no-op tasks, {chain_runs} measured runs",
            "fanout": f"start >> {fanout_width} no-op tasks",
        },
        "metrics": {
            "chain": hops,
            "fanout": throughput,
            "target_hop_median_ms": TARGET_HOP_MEDIAN_MS,
            "target_tasks_per_s": TARGET_TASKS_PER_S,
            "meets_hop_target": hop_ms["median"] <= TARGET_HOP_MEDIAN_MS,
            "meets_fanout_target": float(str(throughput["tasks_per_s"])) >= TARGET_TASKS_PER_S,
        },
    }
