"""``gnomon variables set/get/list/delete`` as a user runs them, on a fresh home's database."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from support.cli import gnomon, migrated_home

SECRET = "tok-0xC0FFEE"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A GNOMON_HOME whose database is migrated (as by ``gnomon db migrate``)."""
    return migrated_home(tmp_path)


def test_get_prints_the_value_that_set_stored(home: Path) -> None:
    done = gnomon(home, "variables", "set", "api_token", SECRET)

    assert done.returncode == 0, done.stderr
    assert gnomon(home, "variables", "get", "api_token").stdout == f"{SECRET}\n"


def test_get_as_json_gives_the_key_value_and_description(home: Path) -> None:
    gnomon(home, "variables", "set", "api_token", SECRET, "--description", "the API")

    done = gnomon(home, "variables", "get", "api_token", "--output", "json")

    assert json.loads(done.stdout) == {
        "key": "api_token",
        "value": SECRET,
        "description": "the API",
    }


def test_set_replaces_the_value_and_keeps_the_description(home: Path) -> None:
    gnomon(home, "variables", "set", "threshold", "5", "--description", "alert above")

    done = gnomon(home, "variables", "set", "threshold", "-1")

    assert done.returncode == 0, done.stderr
    got = json.loads(gnomon(home, "variables", "get", "threshold", "-o", "json").stdout)
    assert (got["value"], got["description"]) == ("-1", "alert above")


def test_list_shows_keys_and_descriptions_but_never_values(home: Path) -> None:
    gnomon(home, "variables", "set", "api_token", SECRET, "--description", "the API")

    table = gnomon(home, "variables", "list")
    as_json = gnomon(home, "variables", "list", "--output", "json")

    assert "api_token" in table.stdout and "the API" in table.stdout
    assert json.loads(as_json.stdout) == [{"key": "api_token", "description": "the API"}]
    assert SECRET not in table.stdout + table.stderr + as_json.stdout + as_json.stderr


def test_values_are_encrypted_at_rest(home: Path) -> None:
    gnomon(home, "variables", "set", "api_token", SECRET)

    with contextlib.closing(sqlite3.connect(home / "gnomon.db")) as connection:
        (stored,) = connection.execute("SELECT value FROM variables").fetchone()

    assert stored and SECRET not in stored
    for file in home.glob("gnomon.db*"):
        assert SECRET.encode() not in file.read_bytes()


def test_the_key_in_gnomon_secret_key_is_used_instead_of_a_key_file(home: Path) -> None:
    env = {"GNOMON_SECRET_KEY": Fernet.generate_key().decode()}

    gnomon(home, "variables", "set", "api_token", SECRET, env=env)
    with_key = gnomon(home, "variables", "get", "api_token", env=env)
    key_file_written = (home / "secret.key").exists()
    without_key = gnomon(home, "variables", "get", "api_token")

    assert with_key.stdout == f"{SECRET}\n"
    assert not key_file_written
    assert without_key.returncode == 1
    assert "cannot decrypt variable 'api_token'" in without_key.stderr


def test_a_malformed_gnomon_secret_key_is_refused_and_nothing_is_written(
    home: Path,
) -> None:
    done = gnomon(home, "variables", "set", "api_token", SECRET, env={"GNOMON_SECRET_KEY": "short"})

    assert done.returncode == 2
    assert done.stderr.startswith("Error: GNOMON_SECRET_KEY: a secret key must be")
    assert "api_token" not in gnomon(home, "variables", "list").stdout


@pytest.mark.parametrize("command", ["get", "delete"])
def test_an_unknown_key_exits_1_naming_it(home: Path, command: str) -> None:
    done = gnomon(home, "variables", command, "nope")

    assert done.returncode == 1
    assert done.stderr.startswith("Error: variable 'nope' does not exist")


def test_delete_removes_the_variable(home: Path) -> None:
    gnomon(home, "variables", "set", "api_token", SECRET)

    done = gnomon(home, "variables", "delete", "api_token")

    assert done.returncode == 0, done.stderr
    assert gnomon(home, "variables", "get", "api_token").returncode == 1


def test_set_on_a_database_not_migrated_says_so_and_writes_no_key_file(tmp_path: Path) -> None:
    (tmp_path / "gnomon.db").touch()

    done = gnomon(tmp_path, "variables", "set", "api_token", SECRET)

    assert done.returncode == 1
    assert "run `gnomon db migrate`" in done.stderr
    assert not (tmp_path / "secret.key").exists()
