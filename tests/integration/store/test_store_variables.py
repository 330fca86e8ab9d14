"""Variables: encrypted at rest, decrypted only by ``get``, never shown by listings."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.orm import Session

from gnomon.store import exceptions, variables
from gnomon.store.secrets import Cipher


@pytest.fixture
def cipher() -> Cipher:
    return Cipher.from_keys(Fernet.generate_key())


def test_values_are_stored_encrypted_and_read_back_with_the_key(
    session: Session, cipher: Cipher
) -> None:
    variables.upsert(session, cipher, "api_token", "tok-123456", description="the API")
    session.commit()

    raw = session.execute(text("SELECT value FROM variables WHERE key = 'api_token'")).scalar()

    assert raw is not None and "tok-123456" not in raw
    assert cipher.decrypt(raw, what="variable") == "tok-123456"
    assert variables.get(session, cipher, "api_token") == variables.Variable(
        "api_token", "tok-123456", "the API"
    )


def test_listing_never_exposes_values(session: Session, cipher: Cipher) -> None:
    variables.upsert(session, cipher, "b", "secret-b")
    variables.upsert(session, cipher, "a", "secret-a", description="first")

    listed = variables.list_all(session)

    assert listed == [variables.VariableSummary("a", "first"), variables.VariableSummary("b")]
    assert "secret" not in repr(listed)


def test_upsert_replaces_the_value(session: Session, cipher: Cipher) -> None:
    variables.upsert(session, cipher, "k", "one")
    variables.upsert(session, cipher, "k", "two")

    found = variables.get(session, cipher, "k")

    assert found is not None and found.value == "two"


def test_the_value_does_not_appear_in_repr(session: Session, cipher: Cipher) -> None:
    variables.upsert(session, cipher, "k", "hidden-value")

    assert "hidden-value" not in repr(variables.get(session, cipher, "k"))


def test_another_key_cannot_read_a_value_and_says_which(session: Session, cipher: Cipher) -> None:
    variables.upsert(session, cipher, "k", "v")
    other = Cipher.from_keys(Fernet.generate_key())

    with pytest.raises(exceptions.SecretKeyError, match="variable 'k'"):
        variables.get(session, other, "k")


def test_delete_reports_whether_there_was_a_variable(session: Session, cipher: Cipher) -> None:
    variables.upsert(session, cipher, "k", "v")

    assert variables.delete(session, "k")
    assert not variables.delete(session, "k")
    assert variables.get(session, cipher, "k") is None
