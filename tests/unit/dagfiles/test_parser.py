"""``parse_file``/``parse_files``: every file is imported in a forked child with a deadline."""

from __future__ import annotations

import builtins
import os
import sys
import textwrap
from pathlib import Path

import pytest
from support.processes import is_gone as process_is_gone
from support.processes import wait_for

from gnomon.dagfiles import loader, parser


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    return path


GOOD = """
    from gnomon import DAG
    from gnomon.operators.empty import EmptyOperator

    with DAG("good", schedule="@daily"):
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""

BROKEN = {
    "raises": (
        """
        x = 1
        raise RuntimeError("boom at import")
        """,
        "RuntimeError: boom at import",
        2,
    ),
    "syntax_error": (
        """
        x = 1
        def broken(:
            pass
        """,
        "SyntaxError: invalid syntax",
        2,
    ),
    "missing_module": (
        """
        import os
        import no_such_module_anywhere
        """,
        "ModuleNotFoundError: No module named 'no_such_module_anywhere'",
        2,
    ),
    "cycle": (
        """
        from gnomon import DAG
        from gnomon.operators.empty import EmptyOperator

        with DAG("cyclic"):
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            a >> b >> a
        """,
        "DagDefinitionError: DAG 'cyclic' has a cycle through task(s): a, b",
        None,
    ),
    "duplicate_task_id": (
        """
        from gnomon import DAG
        from gnomon.operators.empty import EmptyOperator

        with DAG("dup"):
            EmptyOperator(task_id="a")
            EmptyOperator(task_id="a")
        """,
        "DagDefinitionError: DAG 'dup': duplicate task id 'a'",
        6,
    ),
    "unknown_trigger_rule": (
        """
        from gnomon import DAG
        from gnomon.operators.empty import EmptyOperator

        with DAG("rules"):
            EmptyOperator(task_id="a", trigger_rule="sometimes")
        """,
        "unknown trigger rule 'sometimes'",
        5,
    ),
    "bad_schedule": (
        """
        from gnomon import DAG

        DAG("sched", schedule="every day")
        """,
        "DagDefinitionError: DAG 'sched': invalid schedule 'every day'",
        3,
    ),
    "sys_exit": ("import sys\nsys.exit(4)\n", "SystemExit: 4", 2),
    "reads_stdin": ("x = input()\n", "EOFError", 1),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_file_is_an_import_error_naming_the_problem_and_line(
    tmp_path: Path, kind: str
) -> None:
    source, expected, line = BROKEN[kind]
    path = write(tmp_path / f"{kind}.py", source)
    result = parser.parse_file(path, timeout=10)
    assert result.dags == ()
    assert result.error is not None
    assert expected in result.error.splitlines()[-1]
    assert result.line == line
    if line is not None:
        assert f'File "{path}", line {line}' in result.error


def test_file_without_dags_is_not_an_error(tmp_path: Path) -> None:
    result = parser.parse_file(write(tmp_path / "helpers.py", "X = 1\n"), timeout=10)
    assert result.error is None
    assert result.dags == ()


def test_good_file_gives_serialized_dags_with_their_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = write(tmp_path / "sub" / "good.py", GOOD)
    result = parser.parse_file(path, timeout=10, dags_folder=tmp_path)
    assert result.error is None
    [parsed] = result.dags
    assert parsed.dag_id == "good"
    assert parsed.file == path
    assert parsed.relative_file == "sub/good.py"
    assert result.relative_file == "sub/good.py"
    assert parsed.serialized["tasks"]["b"]["upstream"] == ["a"]
    assert len(parsed.version_hash) == 64


@pytest.mark.parametrize("hang", ["time.sleep(1000)", "while True: pass"])
def test_hanging_file_times_out_and_its_process_is_gone(tmp_path: Path, hang: str) -> None:
    pid_file = tmp_path / "pid"
    path = write(
        tmp_path / "hangs.py",
        f"import os, pathlib, time\npathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n"
        + hang
        + "\n",
    )
    # The child dumps its stack at 80% of the timeout: 3 s leaves 0.6 s for that dump to be
    # written before the kill (1.5 s left 0.3 s, which a loaded machine once missed).
    result = parser.parse_file(path, timeout=3)
    assert result.error is not None
    assert result.error.splitlines()[0] == (
        f"timed out after 3 s while importing {path} (GNOMON_DAG_FILE_TIMEOUT)"
    )
    assert result.line == 3  # where it was stuck
    assert 3 <= result.duration_s < 12
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_timeout_also_kills_processes_the_file_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    path = write(
        tmp_path / "spawns.py",
        f"""
        import pathlib, subprocess, time
        proc = subprocess.Popen(["sleep", "1000"])
        pathlib.Path({str(pid_file)!r}).write_text(str(proc.pid))
        time.sleep(1000)
        """,
    )
    result = parser.parse_file(path, timeout=1)
    assert result.error is not None and "timed out after 1 s" in result.error
    wait_for(lambda: process_is_gone(int(pid_file.read_text())))


def test_child_exiting_hard_is_an_import_error_with_its_output(tmp_path: Path) -> None:
    path = write(tmp_path / "exits.py", "import os\nprint('about to leave')\nos._exit(3)\n")
    result = parser.parse_file(path, timeout=10)
    assert result.dags == ()
    assert result.error is not None
    assert result.error.startswith(f"the process importing {path} exited with code 3")
    assert "about to leave" in result.error


def test_child_killed_by_a_signal_is_an_import_error_naming_it_and_the_line(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "crashes.py", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    result = parser.parse_file(path, timeout=10)
    assert result.error is not None
    assert "was killed by signal SIGSEGV (11)" in result.error
    assert result.line == 2


def test_dag_file_code_never_runs_in_the_calling_process(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "noisy.py",
        """
        import builtins, sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
        builtins.gnomon_test_marker = True
        """,
    )
    result = parser.parse_file(path, timeout=10)
    assert result.error is None
    assert not hasattr(builtins, "gnomon_test_marker")
    assert loader.module_name(path) not in sys.modules
    out, err = capfd.readouterr()
    assert "to stdout" not in out + err
    assert "to stderr" not in out + err


def test_files_are_parsed_concurrently(tmp_path: Path) -> None:
    # Each file waits until the other one has started: both finish only if they run at once.
    rendezvous = """
        import pathlib, time
        here = pathlib.Path(__file__)
        here.with_suffix(".started").write_text("")
        other = here.with_name("{other}.started")
        deadline = time.monotonic() + 20
        while not other.exists():
            assert time.monotonic() < deadline, "the other file never started"
            time.sleep(0.01)
    """
    a = write(tmp_path / "a.py", rendezvous.format(other="b"))
    b = write(tmp_path / "b.py", rendezvous.format(other="a"))
    results = parser.parse_files([a, b], timeout=30, concurrency=2)
    assert [r.file for r in results] == [a, b]
    assert [r.error for r in results] == [None, None]


def test_results_keep_the_order_of_the_paths(tmp_path: Path) -> None:
    paths = [write(tmp_path / f"f{i}.py", f"X = {i}\n") for i in range(5)]
    results = parser.parse_files(list(reversed(paths)), timeout=10, concurrency=3)
    assert [r.file for r in results] == list(reversed(paths))
