"""``gnomon connections add/list/delete`` as a user runs them, on a fresh home's database."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from support.cli import gnomon, migrated_home

from gnomon.store import connections, db, secrets

PASSWORD = "pw-0xDEADBEEF"
EXTRA_SECRET = "key-0xFEEDFACE"
WAREHOUSE_OPTIONS = (
    "--conn-type",
    "postgres",
    "--host",
    "db.example.com",
    "--port",
    "5432",
    "--schema",
    "analytics",
    "--login",
    "etl",
    "--password",
    PASSWORD,
    "--extra",
    json.dumps({"api_key": EXTRA_SECRET}),
    "--description",
    "the warehouse",
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A GNOMON_HOME whose database is migrated (as by ``gnomon db migrate``)."""
    return migrated_home(tmp_path)


def stored(home: Path, conn_id: str) -> connections.Connection | None:
    """The connection as the database holds it, decrypted with the home's key file."""
    engine = db.make_engine(db.default_sqlite_url(home))
    cipher = secrets.Cipher.from_keys(secrets.load_or_create_key(home / "secret.key"))
    try:
        with db.session_factory(engine, read_only=True)() as session:
            return connections.get(session, cipher, conn_id)
    finally:
        engine.dispose()


def conn_ids(home: Path) -> list[str]:
    done = gnomon(home, "connections", "list", "--output", "json")
    assert done.returncode == 0, done.stderr
    return [c["conn_id"] for c in json.loads(done.stdout)]


def test_add_stores_every_option_with_its_secrets(home: Path) -> None:
    done = gnomon(home, "connections", "add", "warehouse", *WAREHOUSE_OPTIONS)

    assert done.returncode == 0, done.stderr
    assert stored(home, "warehouse") == connections.Connection(
        conn_id="warehouse",
        conn_type="postgres",
        host="db.example.com",
        schema="analytics",
        login="etl",
        port=5432,
        password=PASSWORD,
        extra={"api_key": EXTRA_SECRET},
        description="the warehouse",
    )


def test_add_from_a_uri_takes_each_field_from_it_and_the_query_as_extra(home: Path) -> None:
    uri = f"postgresql://etl%40corp:{PASSWORD}@db.example.com:5432/analytics?sslmode=require"

    done = gnomon(home, "connections", "add", "warehouse", "--conn-uri", uri)

    assert done.returncode == 0, done.stderr
    assert stored(home, "warehouse") == connections.Connection(
        conn_id="warehouse",
        conn_type="postgres",
        host="db.example.com",
        schema="analytics",
        login="etl@corp",
        port=5432,
        password=PASSWORD,
        extra={"sslmode": "require"},
    )


def test_list_shows_that_a_password_is_set_but_never_the_password_or_extra(home: Path) -> None:
    gnomon(home, "connections", "add", "warehouse", *WAREHOUSE_OPTIONS)

    table = gnomon(home, "connections", "list")
    as_json = gnomon(home, "connections", "list", "--output", "json")

    assert table.returncode == as_json.returncode == 0
    (listed,) = json.loads(as_json.stdout)
    assert listed["host"] == "db.example.com"
    assert listed["has_password"] is True and listed["has_extra"] is True
    assert "db.example.com" in table.stdout and "set" in table.stdout
    for output in (table.stdout, table.stderr, as_json.stdout, as_json.stderr):
        assert PASSWORD not in output
        assert EXTRA_SECRET not in output and "api_key" not in output


def test_password_and_extra_are_encrypted_at_rest(home: Path) -> None:
    gnomon(home, "connections", "add", "warehouse", *WAREHOUSE_OPTIONS)

    with contextlib.closing(sqlite3.connect(home / "gnomon.db")) as connection:
        password, extra = connection.execute("SELECT password, extra FROM connections").fetchone()

    assert password and PASSWORD not in password
    assert extra and EXTRA_SECRET not in extra
    for file in home.glob("gnomon.db*"):
        content = file.read_bytes()
        assert PASSWORD.encode() not in content and EXTRA_SECRET.encode() not in content


def test_adding_an_existing_conn_id_fails_and_keeps_the_stored_connection(home: Path) -> None:
    gnomon(home, "connections", "add", "warehouse", *WAREHOUSE_OPTIONS)

    done = gnomon(home, "connections", "add", "warehouse", "--conn-type", "http")

    assert done.returncode == 1
    assert "connection 'warehouse' already exists: pass --replace" in done.stderr
    kept = stored(home, "warehouse")
    assert kept is not None and kept.conn_type == "postgres"


def test_replace_overwrites_an_existing_connection(home: Path) -> None:
    gnomon(home, "connections", "add", "warehouse", *WAREHOUSE_OPTIONS)

    done = gnomon(home, "connections", "add", "warehouse", "--conn-type", "http", "--replace")

    assert done.returncode == 0, done.stderr
    assert stored(home, "warehouse") == connections.Connection("warehouse", "http")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--conn-type", "http", "--extra", "{'a': 1}"], "--extra is not valid JSON"),
        (["--conn-type", "http", "--extra", "[1, 2]"], "--extra must be a JSON object"),
        (["--conn-uri", "db.example.com"], "the URI must start with the connection type"),
        (["--conn-uri", f"postgres://etl:{PASSWORD}@h:99999/x"], "bad port in the URI"),
        (["--conn-uri", "postgres://h/x", "--host", "h"], "cannot be combined with --host"),
        (["--host", "db.example.com"], "give --conn-type, or --conn-uri"),
    ],
)
def test_options_that_do_not_describe_a_connection_exit_2_and_write_nothing(
    home: Path, options: list[str], message: str
) -> None:
    done = gnomon(home, "connections", "add", "warehouse", *options)

    assert done.returncode == 2
    assert message in done.stderr
    assert PASSWORD not in done.stderr
    assert conn_ids(home) == []


def test_delete_removes_the_connection(home: Path) -> None:
    gnomon(home, "connections", "add", "warehouse", *WAREHOUSE_OPTIONS)

    done = gnomon(home, "connections", "delete", "warehouse")

    assert done.returncode == 0, done.stderr
    assert conn_ids(home) == []


def test_deleting_an_unknown_connection_exits_1_naming_it(home: Path) -> None:
    done = gnomon(home, "connections", "delete", "nope")

    assert done.returncode == 1
    assert done.stderr.startswith("Error: connection 'nope' does not exist")
