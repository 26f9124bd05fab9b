"""Encryption at rest for raw inbound messages: AES-256-GCM with the row id as associated data."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.domain.errors import GatewayError

_NONCE_BYTES = 12


class SealingError(GatewayError):
    """Sealed bytes could not be opened: wrong key, or the row was tampered with."""


class DataSealer:
    """Seals and opens raw message bytes with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SealingError("the data key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, row_id: str) -> bytes:
        """Encrypt `plaintext`, binding it to `row_id`; returns nonce + ciphertext + tag."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, row_id.encode())

    def open(self, sealed: bytes, row_id: str) -> bytes:
        """Decrypt bytes made by `seal` for the same `row_id`; raise SealingError if altered."""
        nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, body, row_id.encode())
        except InvalidTag as exc:
            raise SealingError(f"sealed message {row_id} cannot be opened") from exc


def decode_key(text: str) -> bytes:
    """Decode a base64 data key, failing with a clear message when it is not 32 bytes."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise SealingError("GATEWAY_DATA_KEY is not valid base64") from exc
    if len(key) != 32:
        raise SealingError(f"GATEWAY_DATA_KEY decodes to {len(key)} bytes; 32 are needed")
    return key


def new_key_text() -> str:
    """Return a new random data key, base64 encoded."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def load_or_create_key(path: Path, create: bool) -> bytes:
    """Read a base64 data key from `path`; create one (mode 0600) only when `create` is true."""
    if path.exists():
        return decode_key(path.read_text(encoding="ascii"))
    if not create:
        raise SealingError(
            f"no data key: set GATEWAY_DATA_KEY (or GATEWAY_DATA_KEY_FILE, a file holding it) "
            f"to a base64 32-byte key; `gateway keys new-data-key` prints one (looked for {path})"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    text = new_key_text()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
    return decode_key(text)
