"""The secret key: from an explicit value or a private key file, and what it encrypts."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gnomon.store import exceptions, secrets


def test_the_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "home" / "secret.key"

    first = secrets.load_or_create_key(path)
    second = secrets.load_or_create_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first == second
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temp file left
    Fernet(first)


def test_an_explicit_key_wins_over_the_key_file(tmp_path: Path) -> None:
    explicit = Fernet.generate_key().decode()

    key = secrets.resolve_key(explicit, tmp_path / "secret.key")

    assert key == explicit.encode()
    assert not (tmp_path / "secret.key").exists()


def test_without_an_explicit_key_the_key_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"

    assert secrets.resolve_key(None, path) == secrets.load_or_create_key(path)


def test_a_malformed_key_is_refused_with_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(exceptions.SecretKeyError, match=r"Fernet\.generate_key"):
        secrets.resolve_key("not-a-key", tmp_path / "secret.key")


def test_a_corrupt_key_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("garbage")

    with pytest.raises(exceptions.SecretKeyError, match=re.escape(str(path))):
        secrets.load_or_create_key(path)


def test_a_cipher_round_trips_and_rotates_keys() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token = secrets.Cipher.from_keys(old).encrypt("hunter2")

    rotated = secrets.Cipher.from_keys(new, old)

    assert "hunter2" not in token
    assert rotated.decrypt(token, what="variable 'x'") == "hunter2"
    with pytest.raises(exceptions.SecretKeyError, match="cannot decrypt variable 'x'"):
        secrets.Cipher.from_keys(new).decrypt(token, what="variable 'x'")
