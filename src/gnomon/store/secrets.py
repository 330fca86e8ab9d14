"""Encryption at rest of variable values and connection passwords/extras (Fernet).

Why explicit ciphertext columns instead of an encrypting column type: a TypeDecorator would
need the key at import or engine-creation time, i.e. a global, and would decrypt every row a
query touches, including in listings that must never expose secrets. Here the columns hold
plain ciphertext strings, the query modules (``variables``, ``connections``) take a ``Cipher``
argument, and only the functions that return secrets decrypt. The key's path from settings to
use is visible in every signature.

Key rotation: ``Cipher.from_keys(new, old)`` encrypts with ``new`` and decrypts with either.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gnomon.store import exceptions

KEY_FILE_MODE = 0o600
_GENERATE_HINT = (
    "generate one with: python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


@dataclass(frozen=True, slots=True)
class Cipher:
    """Encrypts with the first key; decrypts with any of them."""

    _fernet: MultiFernet

    @classmethod
    def from_keys(cls, key: str | bytes, *previous: str | bytes) -> Cipher:
        return cls(MultiFernet([_make_fernet(k) for k in (key, *previous)]))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str, *, what: str) -> str:
        """Decrypt ``token``; ``what`` names the secret in the error (``variable 'api_key'``)."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError) as e:
            raise exceptions.SecretKeyError(
                f"cannot decrypt {what}: it was encrypted with another secret key. Set the "
                "secret key (GNOMON_SECRET_KEY or the key file) to the one that wrote it, or "
                "pass it as a previous key to rotate"
            ) from e


def resolve_key(explicit: str | bytes | None, key_path: Path) -> bytes:
    """The explicit key (e.g. the value of GNOMON_SECRET_KEY) if given, else the key file's."""
    if explicit:
        key = explicit.encode() if isinstance(explicit, str) else explicit
        _make_fernet(key)
        return key.strip()
    return load_or_create_key(key_path)


def load_or_create_key(path: Path) -> bytes:
    """The Fernet key stored at ``path``, generated there (mode 0600) on first use.

    Safe against several processes starting at once: the key is written to a private temp
    file and hard-linked into place, so exactly one key wins and every process reads it.
    """
    if not path.exists():
        _create_key_file(path)
    key = path.read_bytes().strip()
    try:
        _make_fernet(key)
    except exceptions.SecretKeyError as e:
        raise exceptions.SecretKeyError(f"the key file {path} is not valid: {e}") from e
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, KEY_FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        # Fails if another process created the key first: then everyone uses theirs.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _make_fernet(key: str | bytes) -> Fernet:
    try:
        return Fernet(key.strip())
    except (ValueError, TypeError) as e:
        raise exceptions.SecretKeyError(
            f"a secret key must be 32 url-safe base64-encoded bytes; {_GENERATE_HINT}"
        ) from e
