"""Signed and encrypted police messages: opened, verified against the force's certificate."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.services import Services
from tests.support.messages import compact

FORCE = "warwickshire-police"


def openssl_protect(message: bytes, signer: Any, gateway_cert: Path, tmp: Path) -> bytes:
    """Sign with the force's key and encrypt to the gateway, as a force's system would."""
    plain, signed, sealed = tmp / "m.xml", tmp / "m.signed", tmp / "m.p7m"
    plain.write_bytes(message)
    subprocess.run(["openssl", "cms", "-sign", "-binary", "-nodetach", "-in", str(plain),
                    "-signer", str(signer.signing.cert), "-inkey", str(signer.signing.key),
                    "-outform", "DER", "-out", str(signed)], check=True, capture_output=True)
    subprocess.run(["openssl", "cms", "-encrypt", "-binary", "-aes256", "-inform", "DER",
                    "-in", str(signed), "-outform", "DER", "-out", str(sealed),
                    str(gateway_cert)], check=True, capture_output=True)
    return sealed.read_bytes()


@pytest.fixture
def services(make_services: Callable[..., Services]) -> Services:
    """Embedded services."""
    return make_services()


def process(services: Services, raw: bytes) -> Any:
    """Receive and process one message from the force."""
    return services.pipeline.process(services.pipeline.receive("compact", raw, FORCE))


def test_message_signed_by_the_force_and_encrypted_to_us_is_opened_and_applied(
        services: Services, demo_pki: Any, tmp_path: Path) -> None:
    sealed = openssl_protect(compact("missing_reported_basic", force=FORCE),
                             demo_pki.parties[FORCE], demo_pki.gateway.encryption.cert, tmp_path)
    receipt = process(services, sealed)
    assert receipt.status.value == "PROCESSED"
    assert receipt.deliveries


def test_message_signed_by_another_force_is_quarantined_with_the_reason(
        services: Services, demo_pki: Any, tmp_path: Path) -> None:
    sealed = openssl_protect(compact("missing_reported_basic", force=FORCE),
                             demo_pki.parties["kent-police"], demo_pki.gateway.encryption.cert,
                             tmp_path)
    receipt = process(services, sealed)
    assert receipt.status.value == "QUARANTINED"
    assert receipt.errors[0]["field"] == "document"
    assert "untrusted_signer" in receipt.errors[0]["message"]


def test_message_encrypted_to_someone_else_is_quarantined(
        services: Services, demo_pki: Any, tmp_path: Path) -> None:
    sealed = openssl_protect(compact("missing_reported_basic", force=FORCE),
                             demo_pki.parties[FORCE], demo_pki.parties["kent"].encryption.cert,
                             tmp_path)
    receipt = process(services, sealed)
    assert receipt.status.value == "QUARANTINED"
    assert "not_for_us" in receipt.errors[0]["message"]


def test_tampered_message_is_quarantined(services: Services, demo_pki: Any,
                                         tmp_path: Path) -> None:
    sealed = bytearray(openssl_protect(compact("missing_reported_basic", force=FORCE),
                                       demo_pki.parties[FORCE],
                                       demo_pki.gateway.encryption.cert, tmp_path))
    sealed[-20] ^= 0xFF
    receipt = process(services, bytes(sealed))
    assert receipt.status.value == "QUARANTINED"
    assert receipt.errors[0]["field"] == "document"
