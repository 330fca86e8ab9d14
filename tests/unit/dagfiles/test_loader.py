"""``load_file`` imports in this process: these files are harmless on purpose."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from gnomon.dagfiles import loader
from gnomon.serialization import writer


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source))
    return path


TWO_DAGS = """
    from gnomon import DAG, dag, task
    from gnomon.operators.empty import EmptyOperator

    with DAG("first", schedule="@hourly"):
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")

    only_in_globals = DAG("second")
    EmptyOperator(task_id="c", dag=only_in_globals)

    @dag()
    def third():
        @task
        def t():
            return 1
        t()

    third()
"""


def test_collects_every_dag_the_file_builds_validated_and_serialized(tmp_path: Path) -> None:
    loaded = loader.load_file(write(tmp_path / "dags.py", TWO_DAGS))
    assert loaded.error is None
    assert [d.dag_id for d in loaded.dags] == ["first", "second", "third"]
    first = loaded.dags[0]
    assert first.serialized == writer.serialize_dag(first.dag)
    assert first.version_hash == writer.content_hash(first.serialized)
    assert first.serialized["fileloc"] == str(tmp_path / "dags.py")


def test_module_name_is_unique_per_path(tmp_path: Path) -> None:
    a = loader.module_name(tmp_path / "a" / "etl.py")
    b = loader.module_name(tmp_path / "b" / "etl.py")
    assert a != b
    assert a.startswith("gnomon_dag_")


def test_a_failed_import_leaves_no_module_behind(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.py", "raise ValueError('nope')\n")
    loaded = loader.load_file(path)
    assert loaded.error is not None
    assert loader.module_name(path) not in sys.modules


def test_dag_id_defined_twice_in_one_file_is_an_error_for_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "twice.py",
        """
        from gnomon import DAG
        one = DAG("same")
        two = DAG("same")
        """,
    )
    loaded = loader.load_file(path)
    assert loaded.dags == ()
    assert loaded.error is not None
    assert "DAG 'same' is defined more than once" in loaded.error


def test_traceback_starts_at_the_dag_file_and_ends_with_the_exception(tmp_path: Path) -> None:
    path = write(
        tmp_path / "raises.py",
        """
        def fail():
            raise KeyError("missing")

        fail()
        """,
    )
    loaded = loader.load_file(path)
    assert loaded.error is not None
    lines = loaded.error.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1] == f'  File "{path}", line 5, in <module>'
    assert lines[-1] == "KeyError: 'missing'"
    assert "importlib" not in loaded.error
    assert "gnomon/dagfiles" not in loaded.error
    assert loaded.line == 3


def test_warnings_are_shown_but_never_fail_an_import(tmp_path: Path) -> None:
    # pytest runs with filterwarnings=error: the file must load the same as anywhere else.
    path = write(
        tmp_path / "warns.py",
        """
        import warnings
        from gnomon import DAG
        warnings.warn("old style", DeprecationWarning, stacklevel=1)
        d = DAG("warns")
        """,
    )
    with pytest.warns(DeprecationWarning, match="old style"):
        loaded = loader.load_file(path)
    assert loaded.error is None
    assert [d.dag_id for d in loaded.dags] == ["warns"]


def test_loader_future_imports_do_not_leak_into_dag_files(tmp_path: Path) -> None:
    # loader.py uses `from __future__ import annotations`; the DAG file must not inherit it.
    path = write(
        tmp_path / "annotations.py",
        """
        def f(x: int) -> None:
            pass
        assert f.__annotations__["x"] is int
        """,
    )
    assert loader.load_file(path).error is None
