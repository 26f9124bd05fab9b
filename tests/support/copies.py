"""Open the copies the gateway delivered, as the receiving council would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.delivery.crypto.inbound import unprotect


def open_copy(path: Path, pki: Any, party: str) -> dict[str, Any]:
    """Decrypt a delivered `.p7m` with `party`'s key, verify the gateway signed it, parse JSON."""
    identity = pki.parties[party].decryption()
    verified = unprotect(path.read_bytes(), identity.key, identity.certificate,
                         [pki.gateway.signing_certificate()])
    document: dict[str, Any] = json.loads(verified.content)
    return document
