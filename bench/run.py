"""``python -m bench``: run the scenarios on each backend and print one JSON document.

Progress goes to stderr; stdout carries only the JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import platform
import pstats
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import gnomon
from bench import celery, cpu, dags, databases, forking, metrics, ui
from bench.harness import BenchError, Harness, TryRecord
from bench.phases import PassProfiler, PhaseTimer
from gnomon.semantics.states import RunState

TARGET_HOP_MEDIAN_MS = 10.0
TARGET_TASKS_PER_S = 500.0
RUN_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    kind: str  # "chain" or "fanout"
    size: int
    parallelism: int
    runs: int
    schedulers: int = 1

    @property
    def label(self) -> str:
        suffix = f" x{self.schedulers} schedulers" if self.schedulers > 1 else ""
        return f"{self.name} p{self.parallelism}{suffix}"

    @property
    def dag_id(self) -> str:
        return dags.CHAIN_DAG_ID if self.kind == "chain" else dags.FANOUT_DAG_ID

    def source(self) -> str:
        return dags.chain(self.size) if self.kind == "chain" else dags.fanout(self.size)

    def parameters(self) -> dict[str, object]:
        shape = (
            f"{self.size} PythonOperator no-op tasks in a chain"
            if self.kind == "chain"
            else f"start >> {self.size} independent PythonOperator no-op tasks"
        )
        return {
            "dag": shape,
            "parallelism": self.parallelism,
            "schedulers": self.schedulers,
            "measured_runs": self.runs,
            "warm_up_runs": 1,
        }


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _default_parallelism() -> int:
    value = os.environ.get("GNOMON_PARALLELISM")
    return int(value) if value else os.cpu_count() or 1


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("GNOMON_BENCH_POSTGRES_URL", databases.DEFAULT_POSTGRES_URL),
        help="a maintenance database on a server where the user may create databases",
    )
    parser.add_argument("--chain-length", type=int, default=50)
    parser.add_argument("--chain-runs", type=int, default=3, help="measured runs of the chain")
    parser.add_argument("--fanout-width", type=int, default=1000)
    parser.add_argument("--fanout-runs", type=int, default=1, help="measured fan-out runs")
    parser.add_argument(
        "--parallelism",
        type=int,
        default=_default_parallelism(),
        help="warm worker processes (default: GNOMON_PARALLELISM, else the CPU count)",
    )
    parser.add_argument(
        "--fanout-parallelism",
        default="8",
        help="extra parallelism values for the fan-out, comma-separated ('' for none)",
    )
    parser.add_argument(
        "--scenarios",
        default="chain,fanout,ui,celery",
        help="comma-separated: chain, fanout, ui, celery (Postgres only)",
    )
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("GNOMON_BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"),
        help="the Celery scenario's broker",
    )
    parser.add_argument(
        "--worker-concurrency", type=int, default=4, help="each Celery worker's pool size"
    )
    parser.add_argument(
        "--worker-tries-per-process",
        default="1,20",
        help="each Celery worker's tries per kept try process, comma-separated: the Celery "
        "scenario runs once per value (1: a fork per try, the setting's default)",
    )
    parser.add_argument(
        "--phases", action="store_true", help="add the scheduler's time per phase of a pass"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="write a cProfile of the scheduler thread per scenario into this folder",
    )
    parser.add_argument(
        "--forks", type=int, default=200, help="no-op tries in the fork micro-benchmark (0: off)"
    )
    parser.add_argument(
        "--schedulers",
        default="1",
        help=(
            "numbers of schedulers to run each scenario with, comma-separated (e.g. 1,2); "
            "above 1 Postgres only: the extra ones are `gnomon scheduler` processes with "
            "homes of their own, each with the scenario's parallelism"
        ),
    )
    parser.add_argument(
        "--celery-schedulers",
        default="1,2",
        help="numbers of schedulers to run the Celery scenario with, comma-separated",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON document to this file")
    return parser.parse_args(argv)


def _counts(listed: str) -> list[int]:
    return [int(v) for v in listed.split(",") if v.strip()]


def _scenarios(options: argparse.Namespace) -> list[Scenario]:
    return [
        dataclasses.replace(scenario, schedulers=count)
        for count in _counts(options.schedulers)
        for scenario in _shapes(options)
    ]


def _shapes(options: argparse.Namespace) -> list[Scenario]:
    wanted = set(options.scenarios.split(","))
    found: list[Scenario] = []
    if "chain" in wanted:
        found.append(
            Scenario(
                f"chain{options.chain_length}",
                "chain",
                options.chain_length,
                options.parallelism,
                options.chain_runs,
            )
        )
    if "fanout" in wanted:
        values = [options.parallelism]
        values += [int(v) for v in options.fanout_parallelism.split(",") if v.strip()]
        for parallelism in dict.fromkeys(values):
            found.append(
                Scenario(
                    f"fanout{options.fanout_width}",
                    "fanout",
                    options.fanout_width,
                    parallelism,
                    options.fanout_runs,
                )
            )
    return found


# -- one scenario ----------------------------------------------------------------------------
def run_scenario(
    url: str, root: Path, scenario: Scenario, options: argparse.Namespace, label: str
) -> dict[str, Any]:
    harness = Harness(
        url, root, parallelism=scenario.parallelism, extra_schedulers=scenario.schedulers - 1
    )
    harness.write_dag(scenario.name, scenario.source())
    harness.sync()
    timer = PhaseTimer()
    profiler = PassProfiler()
    if options.phases:
        timer.install(harness.scheduler, harness.engine, harness.sessions)
    if options.profile:
        profiler.install(harness.scheduler)
    measured: list[tuple[list[TryRecord], float]] = []
    load_before = os.getloadavg()[0]
    try:
        harness.start()
        began = time.perf_counter()
        _one_run(harness, scenario.dag_id)  # warm-up: workers started, the DAG imported
        _say(f"  {label}: warm-up run {time.perf_counter() - began:.2f}s")
        timer.active = profiler.active = True
        workers = harness.executor.worker_pids()
        servers = harness.database_server_pids()
        cpu_before = cpu.snapshot(harness.scheduler_tid, workers, servers)
        measuring = time.perf_counter()
        for i in range(scenario.runs):
            records, wall = _one_run(harness, scenario.dag_id)
            _say(f"  {label}: run {i + 1}/{scenario.runs} {wall:.2f}s")
            measured.append((records, wall))
        elapsed = time.perf_counter() - measuring
        cpu_after = cpu.snapshot(harness.scheduler_tid, workers, servers)
        worker_rss = [cpu.rss_mb(pid) for pid in workers]
        timer.active = profiler.active = False
        passes = harness.scheduler.passes
    finally:
        timer.uninstall()
        harness.stop()
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "parameters": scenario.parameters(),
        "metrics": _metrics(scenario, measured),
        "cpu_ms_per_try": cpu.per_try_ms(
            cpu_before, cpu_after, sum(len(records) for records, _ in measured)
        ),
        "scheduler_thread_busy": _busy(cpu_before, cpu_after, elapsed),
        "worker_rss_mb": worker_rss,
        "scheduler_passes_total": passes,
        # Other processes on the machine compete for its cores: this says how much.
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    if options.phases:
        result["phases"] = timer.to_json()
    if options.profile:
        options.profile.mkdir(parents=True, exist_ok=True)
        path = options.profile / f"{label.replace(' ', '-')}.prof"
        profiler.profile.dump_stats(path)
        _say(f"  {label}: profile in {path}; top by cumulative time:")
        pstats.Stats(profiler.profile, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    return result


def _busy(before: cpu.Snapshot | None, after: cpu.Snapshot | None, elapsed: float) -> float | None:
    """The share of the measured time the scheduler thread was on a CPU (1.0: saturated)."""
    if before is None or after is None:
        return None
    return round((after.scheduler - before.scheduler) / elapsed, 3)


def _one_run(harness: Harness, dag_id: str) -> tuple[list[TryRecord], float]:
    """Trigger a run, wait for it; its tries and the wall time from trigger to its end."""
    run_pk, triggered = harness.trigger(dag_id)
    run = harness.wait(run_pk, RUN_TIMEOUT)
    if run.state is not RunState.SUCCESS:
        raise BenchError(f"run {run.run_id} of {dag_id} ended {run.state.value}")
    assert run.end_date is not None
    return harness.tries_of(run_pk), _seconds(triggered, run.end_date)


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def _metrics(scenario: Scenario, measured: list[tuple[list[TryRecord], float]]) -> dict[str, Any]:
    walls = [round(wall, 4) for _, wall in measured]
    if scenario.kind == "chain":
        hops = metrics.chain_hops([records for records, _ in measured])
        hop_ms = hops["hop_ms"]
        assert isinstance(hop_ms, dict)
        return {
            **hops,
            "wall_s_per_run": walls,
            "target_hop_median_ms": TARGET_HOP_MEDIAN_MS,
            "meets_target": hop_ms["median"] <= TARGET_HOP_MEDIAN_MS,
        }
    per_run = [metrics.fanout_throughput(rs, "start") for rs, _ in measured]
    summary = per_run[0] if len(per_run) == 1 else {"runs": per_run}
    rates = [float(str(r["tasks_per_s"])) for r in per_run]
    return {
        **summary,
        "wall_s_per_run": walls,
        "target_tasks_per_s": TARGET_TASKS_PER_S,
        "meets_target": min(rates) >= TARGET_TASKS_PER_S,
    }


def main(argv: list[str] | None = None) -> int:
    options = _arguments(argv)
    scratch = Path(tempfile.mkdtemp(prefix="gnomon-bench-"))
    try:
        return _measure(options, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _scratch(root: Path, prefix: str = "") -> Path:
    """A folder of its own for one scenario, under ``root``, which is removed when the whole
    run ends, not when the scenario does. On ext4 (this machine's disk) a mass deletion
    makes every file and folder created in the following minute scan the recently deleted
    inodes: 1-2 ms of CPU each, against 20-150 us, which a fan-out's workers pay once per
    try (its log). Removing a scenario's thousands of logs just before the next one ran
    charged that to the next one (``log_file_create_us`` in the Celery scenario)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


def _measure(options: argparse.Namespace, scratch: Path) -> int:
    """Run the chosen scenarios, each in a folder of its own under ``scratch``; the exit
    code."""
    document: dict[str, Any] = {
        "gnomon": gnomon.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "parallelism_default": _default_parallelism(),
        "targets": {"hop_median_ms": TARGET_HOP_MEDIAN_MS, "tasks_per_s": TARGET_TASKS_PER_S},
        "results": [],
    }
    results: list[dict[str, Any]] = document["results"]
    scenarios = _scenarios(options)
    failed = False
    for name in [b.strip() for b in options.backends.split(",") if b.strip()]:
        try:
            backend = databases.open_backend(name, options.postgres_url)
            try:
                for scenario in scenarios:
                    if scenario.schedulers > 1 and name != "postgres":
                        continue  # SQLite has one writer: one scheduler
                    label = f"{name} {scenario.label}"
                    _say(f"{label} ...")
                    root = _scratch(scratch)
                    with backend.database(root) as url:
                        result = run_scenario(url, root, scenario, options, label)
                    results.append({"backend": name, "version": backend.version, **result})
                if "ui" in options.scenarios.split(","):
                    _say(f"{name} ui_api: seeding 1,001 DAGs and 50 runs of 2,000 tasks ...")
                    root = _scratch(scratch)
                    with backend.database(root) as url:
                        result = ui.measure(url, root)
                    _say(f"  {name} ui_api: {json.dumps(result['metrics'])}")
                    results.append({"backend": name, "version": backend.version, **result})
                if name == "postgres" and "celery" in options.scenarios.split(","):
                    for schedulers, per_process in itertools.product(
                        _counts(options.celery_schedulers),
                        _counts(options.worker_tries_per_process),
                    ):
                        _say(
                            f"{name} celery with {schedulers} scheduler(s), "
                            f"{per_process} tries per process ..."
                        )
                        root = _scratch(scratch)
                        with backend.database(root) as url:
                            result = celery.measure(
                                url,
                                root,
                                options.broker_url,
                                schedulers=schedulers,
                                chain_length=options.chain_length,
                                chain_runs=options.chain_runs,
                                fanout_width=options.fanout_width,
                                concurrency=options.worker_concurrency,
                                tries_per_process=per_process,
                            )
                        _say(f"  {name} celery: {json.dumps(result['metrics'])}")
                        results.append({"backend": name, "version": backend.version, **result})
            finally:
                backend.close()
        except databases.PostgresUnavailable as exc:
            _say(f"{name}: skipped: {exc}")
            results.append({"backend": name, "skipped": str(exc)})
        except BenchError as exc:
            _say(f"{name}: failed: {exc}")
            results.append({"backend": name, "error": str(exc)})
            failed = True
    if options.forks > 0:
        _say(f"fork micro-benchmark: {options.forks} no-op tries ...")
        document["fork_per_try"] = forking.measure(options.forks, _scratch(scratch, "forks-"))
    text = json.dumps(document, indent=2) + "\n"
    sys.stdout.write(text)
    if options.output:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(text)
        _say(f"written to {options.output}")
    return 1 if failed else 0
