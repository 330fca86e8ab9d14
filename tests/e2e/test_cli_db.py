"""``gnomon db migrate`` / ``gnomon db check`` as a user runs them, with a fresh GNOMON_HOME."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import gnomon

UNREACHABLE = "postgresql+psycopg://postgres:sekret@127.0.0.1:1/x"


def test_migrate_creates_the_database_in_home_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    first = gnomon(tmp_path, "db", "migrate", "--output", "json")
    second = gnomon(tmp_path, "db", "migrate", "--output", "json")

    assert first.returncode == 0, first.stderr
    assert (tmp_path / "gnomon.db").is_file()
    created = json.loads(first.stdout)
    assert created["url"].endswith(f"{tmp_path}/gnomon.db")
    assert created["before"] == [] and created["after"] and created["changed"]
    again = json.loads(second.stdout)
    assert again["before"] == again["after"] == created["after"]
    assert again["changed"] is False


def test_migrate_prints_the_revisions_before_and_after(tmp_path: Path) -> None:
    done = gnomon(tmp_path, "db", "migrate")

    assert done.returncode == 0, done.stderr
    assert "gnomon.db" in done.stdout
    assert "Migrated from none to" in done.stdout


def test_check_passes_after_migrate(tmp_path: Path) -> None:
    gnomon(tmp_path, "db", "migrate")

    done = gnomon(tmp_path, "db", "check")

    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


def test_check_fails_on_a_database_never_migrated(tmp_path: Path) -> None:
    done = gnomon(tmp_path, "db", "check")

    assert done.returncode == 1
    assert "not up to date" in done.stderr


def test_check_of_an_unreachable_database_names_the_host_but_not_the_password(
    tmp_path: Path,
) -> None:
    done = gnomon(tmp_path, "db", "check", env={"GNOMON_DB_URL": UNREACHABLE})

    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot reach the metadata database")
    assert "127.0.0.1" in done.stderr
    assert "sekret" not in done.stderr
