"""Connections: password and extra encrypted at rest, never shown by listings."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.orm import Session

from gnomon.store import connections, exceptions
from gnomon.store.secrets import Cipher

WAREHOUSE = connections.Connection(
    conn_id="warehouse",
    conn_type="postgres",
    host="db.example.com",
    schema="analytics",
    login="etl",
    port=5432,
    password="pw-0xDEADBEEF",
    extra={"sslmode": "require", "api_key": "key-0xFEEDFACE"},
    description="the warehouse",
)


@pytest.fixture
def cipher() -> Cipher:
    return Cipher.from_keys(Fernet.generate_key())


def test_password_and_extra_are_stored_encrypted(session: Session, cipher: Cipher) -> None:
    connections.upsert(session, cipher, WAREHOUSE)
    session.commit()

    password, extra = session.execute(
        text("SELECT password, extra FROM connections WHERE conn_id = 'warehouse'")
    ).one()

    assert "pw-0xDEADBEEF" not in password
    assert "key-0xFEEDFACE" not in extra
    assert cipher.decrypt(password, what="password") == "pw-0xDEADBEEF"
    assert "key-0xFEEDFACE" in cipher.decrypt(extra, what="extra")


def test_get_returns_the_connection_with_its_secrets(session: Session, cipher: Cipher) -> None:
    connections.upsert(session, cipher, WAREHOUSE)

    assert connections.get(session, cipher, "warehouse") == WAREHOUSE


def test_listing_never_exposes_password_or_extra(session: Session, cipher: Cipher) -> None:
    connections.upsert(session, cipher, WAREHOUSE)

    listed = connections.list_all(session)

    assert listed == [
        connections.ConnectionSummary(
            "warehouse", "postgres", "db.example.com", "analytics", "etl", 5432, "the warehouse"
        )
    ]
    assert not hasattr(listed[0], "password")
    assert "0xDEADBEEF" not in repr(listed) and "0xFEEDFACE" not in repr(listed)


def test_repr_hides_the_secrets(session: Session, cipher: Cipher) -> None:
    assert "0xDEADBEEF" not in repr(WAREHOUSE)
    assert "0xFEEDFACE" not in repr(WAREHOUSE)


def test_a_connection_without_secrets_stores_none(session: Session, cipher: Cipher) -> None:
    plain = connections.Connection("http_default", "http", host="example.com")
    connections.upsert(session, cipher, plain)

    assert connections.get(session, cipher, "http_default") == plain
    assert session.execute(text("SELECT password, extra FROM connections")).one() == (None, None)


def test_extra_must_be_json(session: Session, cipher: Cipher) -> None:
    bad = connections.Connection("c", "http", extra={"when": object()})

    with pytest.raises(exceptions.InvalidValue, match="connection 'c': extra"):
        connections.upsert(session, cipher, bad)


def test_delete_reports_whether_there_was_a_connection(session: Session, cipher: Cipher) -> None:
    connections.upsert(session, cipher, WAREHOUSE)

    assert connections.delete(session, "warehouse")
    assert not connections.delete(session, "warehouse")
