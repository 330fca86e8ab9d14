"""``load_file`` imports in this process: these files are harmless on purpose."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
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


# -- activate: helper modules of one bundle at a time -----------------------------------------
@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``sys.path``, ``sys.modules`` and the activated folders as they were, after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(loader, "_activated", [])
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def _bundle(root: Path, who: str) -> Path:
    """A DAGs folder with a helper module and a namespace package, both saying ``who``."""
    (root / "ns_pkg_7c1e").mkdir(parents=True)
    write(root / "effects_7c1e.py", f"WHO = {who!r}\n")
    write(root / "ns_pkg_7c1e" / "names.py", f"WHO = {who!r}\n")
    write(root / "dag.py", "import effects_7c1e\nfrom ns_pkg_7c1e import names\n")
    return root


@pytest.mark.usefixtures("isolated_imports")
def test_activating_a_folder_forgets_the_helpers_imported_from_the_one_before(
    tmp_path: Path,
) -> None:
    first, second = _bundle(tmp_path / "first", "first"), _bundle(tmp_path / "second", "second")
    loader.activate(first)
    loaded = loader.load_file(first / "dag.py", first)
    assert loaded.error is None
    first_module = sys.modules[loader.module_name(first / "dag.py")]

    loader.activate(second)
    assert loader.load_file(second / "dag.py", second).error is None

    second_module = sys.modules[loader.module_name(second / "dag.py")]
    assert (second_module.effects_7c1e.WHO, second_module.names.WHO) == ("second", "second")
    assert (first_module.effects_7c1e.WHO, first_module.names.WHO) == ("first", "first")
    assert sys.path[0] == str(second) and str(first) not in sys.path
    # The first file's module stays loaded: its DAGs and functions still refer to it.
    assert sys.modules[loader.module_name(first / "dag.py")] is first_module


@pytest.mark.usefixtures("isolated_imports")
def test_a_helper_imported_as_a_task_runs_comes_from_the_folder_activated_for_it(
    tmp_path: Path,
) -> None:
    first, second = _bundle(tmp_path / "first", "first"), _bundle(tmp_path / "second", "second")
    loader.activate(second)  # the warm process loaded another version since
    loader.load_file(second / "dag.py", second)

    loader.activate(first)  # the try's own process, before its task runs
    import effects_7c1e  # type: ignore[import-not-found]
    from ns_pkg_7c1e import names  # type: ignore[import-not-found]

    assert (effects_7c1e.WHO, names.WHO) == ("first", "first")
