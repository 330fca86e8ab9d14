"""``parse_folder`` and ``find_dag_file``: a whole DAGs folder, parsed in child processes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gnomon.dagfiles import bag
from gnomon.dagfiles.exceptions import DagNotFoundError

BASIC = Path(__file__).parents[2] / "fixtures" / "dagfiles" / "basic"


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    return path


def dag_source(dag_id: str, *task_ids: str) -> str:
    tasks = "\n".join(f"    EmptyOperator(task_id={t!r})" for t in task_ids or ("t",))
    return (
        "from gnomon import DAG\nfrom gnomon.operators.empty import EmptyOperator\n\n"
        f"with DAG({dag_id!r}):\n{tasks}\n"
    )


def test_fixture_folder_gives_every_dag_with_helper_imports_and_ignores_applied() -> None:
    result = bag.parse_folder(BASIC, timeout=20)
    assert result.import_errors == []
    assert list(result.dags) == ["etl", "manual_only", "nested", "weekly_report"]
    # etl.py imports `common` from the folder; scratch_*.py and drafts/ raise if imported.
    assert result.dags["etl"].relative_file == "etl.py"
    assert result.dags["nested"].relative_file == "nested/deeper/nested_dag.py"
    assert [f.relative_file for f in result.files] == [
        "common.py",
        "etl.py",
        "nested/deeper/nested_dag.py",
        "reports.py",
    ]


def test_paths_are_absolute_with_a_relative_form_for_display(tmp_path: Path) -> None:
    write(tmp_path / "team" / "one.py", dag_source("one"))
    parsed = bag.parse_folder(tmp_path, timeout=20).dags["one"]
    assert parsed.file == tmp_path / "team" / "one.py"
    assert parsed.relative_file == "team/one.py"


def test_broken_file_does_not_hide_a_good_one(tmp_path: Path) -> None:
    write(tmp_path / "a_broken.py", "raise RuntimeError('broken')\n")
    write(tmp_path / "b_good.py", dag_source("good"))
    write(tmp_path / "c_syntax.py", "def (:\n")
    result = bag.parse_folder(tmp_path, timeout=20)
    assert list(result.dags) == ["good"]
    assert [e.relative_file for e in result.import_errors] == ["a_broken.py", "c_syntax.py"]
    assert result.import_errors[0].summary == "RuntimeError: broken"
    assert result.import_errors[0].file == tmp_path / "a_broken.py"


def test_dag_id_in_two_files_is_an_error_for_both_and_neither_is_kept(tmp_path: Path) -> None:
    write(tmp_path / "first.py", dag_source("shared") + "\nwith DAG('other_one'):\n    pass\n")
    write(tmp_path / "second.py", dag_source("shared"))
    result = bag.parse_folder(tmp_path, timeout=20)
    assert "shared" not in result.dags
    assert list(result.dags) == ["other_one"]
    errors = {e.relative_file: e for e in result.import_errors}
    assert set(errors) == {"first.py", "second.py"}
    assert errors["first.py"].error == f"DAG 'shared' is also defined in {tmp_path / 'second.py'}"
    assert errors["second.py"].error == f"DAG 'shared' is also defined in {tmp_path / 'first.py'}"
    assert errors["first.py"].dag_ids == ("shared",)


def test_content_hash_is_stable_across_parses_and_changes_with_a_task(tmp_path: Path) -> None:
    path = write(tmp_path / "dag.py", dag_source("versioned", "a", "b"))
    first = bag.parse_folder(tmp_path, timeout=20).dags["versioned"].version_hash
    again = bag.parse_folder(tmp_path, timeout=20).dags["versioned"].version_hash
    assert first == again
    # Same size, same second: a cached bytecode would hide this edit.
    path.write_text(dag_source("versioned", "a", "c"))
    changed = bag.parse_folder(tmp_path, timeout=20).dags["versioned"]
    assert changed.version_hash != first
    assert set(changed.serialized["tasks"]) == {"a", "c"}


def test_find_dag_file_returns_the_file_that_defines_the_dag() -> None:
    parsed = bag.find_dag_file(BASIC, "weekly_report", timeout=20)
    assert parsed.file == BASIC / "reports.py"


def test_unknown_dag_error_names_folder_close_matches_and_failed_files(tmp_path: Path) -> None:
    write(tmp_path / "good.py", dag_source("daily_sales"))
    write(tmp_path / "broken.py", "raise ImportError('no warehouse client')\n")
    with pytest.raises(DagNotFoundError) as caught:
        bag.find_dag_file(tmp_path, "daily_sale", timeout=20)
    message = str(caught.value)
    assert message.startswith(f"DAG 'daily_sale' not found in {tmp_path}")
    assert "did you mean 'daily_sales'?" in message
    assert "broken.py: ImportError: no warehouse client" in message


def test_dag_defined_in_two_files_is_not_found_and_says_where(tmp_path: Path) -> None:
    write(tmp_path / "a.py", dag_source("twice"))
    write(tmp_path / "b.py", dag_source("twice"))
    with pytest.raises(DagNotFoundError, match="DAG 'twice' is defined in more than one file"):
        bag.find_dag_file(tmp_path, "twice", timeout=20)
