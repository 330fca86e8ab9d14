"""The DAG files the scenarios run: plain ``PythonOperator`` tasks whose callable returns
None, so every task is a real try (forked process, log, outcome) that does nothing."""

from __future__ import annotations

CHAIN_DAG_ID = "bench_chain"
FANOUT_DAG_ID = "bench_fanout"

_HEADER = """\
from __future__ import annotations

from datetime import datetime

from gnomon import DAG
from gnomon.operators import PythonOperator


def noop() -> None:
    return None

"""


def chain(length: int) -> str:
    """``t0000 >> t0001 >> ... ``: ``length`` no-op tasks, each waiting for the one before."""
    return _HEADER + (
        f'with DAG("{CHAIN_DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1)):\n'
        "    previous = None\n"
        f"    for i in range({length}):\n"
        '        current = PythonOperator(task_id=f"t{i:04d}", python_callable=noop)\n'
        "        if previous is not None:\n"
        "            previous >> current\n"
        "        previous = current\n"
    )


def fanout(width: int) -> str:
    """``start >> [t0000 ... t<width-1>]``: one no-op task, then ``width`` independent no-op
    tasks released together when it succeeds. ``max_active_tasks`` is raised above
    ``width`` so that only the executor's parallelism bounds how many run at once."""
    return _HEADER + (
        f'with DAG("{FANOUT_DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), '
        f"max_active_tasks={width + 1}):\n"
        '    start = PythonOperator(task_id="start", python_callable=noop)\n'
        f"    for i in range({width}):\n"
        '        start >> PythonOperator(task_id=f"t{i:04d}", python_callable=noop)\n'
    )
