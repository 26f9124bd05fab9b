"""Open the copies the gateway delivered, as the receiving council would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.case_receipts import ImportedFile
from adapters.registry import case_system_adapter
from gateway.delivery.crypto.inbound import unprotect


def open_copy(path: Path, pki: Any, party: str) -> bytes:
    """Decrypt a delivered `.p7m` with `party`'s key and verify the gateway signed it."""
    identity = pki.parties[party].decryption()
    verified = unprotect(path.read_bytes(), identity.key, identity.certificate,
                         [pki.gateway.signing_certificate()])
    return verified.content


def read_copy(path: Path, pki: Any, party: str, system: str) -> ImportedFile:
    """Open a copy and read it with `system`'s importer: what it is about, and whom."""
    adapter: Any = case_system_adapter(system)
    imported: ImportedFile = adapter.read_import(open_copy(path, pki, party))
    return imported
