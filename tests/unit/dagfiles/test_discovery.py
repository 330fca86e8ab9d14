from __future__ import annotations

import re
from pathlib import Path

import pytest

from gnomon.dagfiles import discovery
from gnomon.dagfiles.exceptions import DagsFolderError


def make_files(root: Path, *names: str, ignore: dict[str, str] | None = None) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    for directory, text in (ignore or {}).items():
        (root / directory).mkdir(parents=True, exist_ok=True)
        (root / directory / ".gnomonignore").write_text(text)


def found(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in discovery.discover_files(root)]


def test_finds_python_files_recursively_sorted_as_absolute_paths(tmp_path: Path) -> None:
    make_files(tmp_path, "b.py", "a/z.py", "a/b/c.py", "readme.md", "a/data.json")
    assert found(tmp_path) == ["a/b/c.py", "a/z.py", "b.py"]
    assert all(p.is_absolute() for p in discovery.discover_files(tmp_path))


def test_skips_hidden_directories_and_pycache(tmp_path: Path) -> None:
    make_files(tmp_path, "dag.py", ".git/hook.py", "__pycache__/dag.py", "sub/.venv/lib.py")
    assert found(tmp_path) == ["dag.py"]


def test_pattern_without_slash_matches_names_at_any_depth(tmp_path: Path) -> None:
    make_files(
        tmp_path,
        "keep.py",
        "broken_one.py",
        "deep/er/broken_two.py",
        "deep/keep_too.py",
        ignore={".": "broken_*.py\n"},
    )
    assert found(tmp_path) == ["deep/keep_too.py", "keep.py"]


def test_star_py_pattern_ignores_every_python_file(tmp_path: Path) -> None:
    make_files(tmp_path, "a.py", "sub/b.py", ignore={".": "*.py\n"})
    assert found(tmp_path) == []


def test_directory_patterns_ignore_the_whole_directory(tmp_path: Path) -> None:
    make_files(
        tmp_path,
        "keep.py",
        "legacy/old.py",
        "legacy/inner/older.py",
        "drafts/wip.py",
        "sub/drafts/wip.py",
        ignore={".": "legacy/*\ndrafts/\n"},
    )
    # "drafts/" has no inner slash: it matches a directory named drafts at any depth.
    assert found(tmp_path) == ["keep.py"]


def test_trailing_slash_pattern_matches_directories_only(tmp_path: Path) -> None:
    make_files(tmp_path, "tmp.py", "tmp.py.d/x.py", ignore={".": "tmp.py/\n"})
    assert found(tmp_path) == ["tmp.py", "tmp.py.d/x.py"]


def test_ignore_file_in_a_subfolder_matches_relative_to_its_own_directory(tmp_path: Path) -> None:
    make_files(
        tmp_path,
        "local.py",
        "team/local.py",
        "team/keep.py",
        "team/inner/one.py",
        "inner/one.py",
        ignore={"team": "local.py\n/inner/one.py\n"},
    )
    assert found(tmp_path) == ["inner/one.py", "local.py", "team/keep.py"]


def test_comments_and_blank_lines_are_not_patterns(tmp_path: Path) -> None:
    make_files(tmp_path, "a.py", "#b.py", ignore={".": "# a.py\n\n   \n"})
    assert found(tmp_path) == ["#b.py", "a.py"]


def test_double_star_matches_any_number_of_directories(tmp_path: Path) -> None:
    make_files(
        tmp_path, "x/tests/t.py", "x/y/z/tests/t.py", "x/keep.py", ignore={".": "x/**/tests/\n"}
    )
    assert found(tmp_path) == ["x/keep.py"]


def test_negated_pattern_reincludes_a_file(tmp_path: Path) -> None:
    make_files(tmp_path, "gen_a.py", "gen_keep.py", ignore={".": "gen_*.py\n!gen_keep.py\n"})
    assert found(tmp_path) == ["gen_keep.py"]


def test_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DagsFolderError, match=re.escape(str(missing))):
        discovery.discover_files(missing)


def test_folder_may_be_a_single_file(tmp_path: Path) -> None:
    make_files(tmp_path, "only.py")
    assert discovery.discover_files(tmp_path / "only.py") == [tmp_path / "only.py"]
