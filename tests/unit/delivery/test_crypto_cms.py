"""CMS and S/MIME sign-then-encrypt round trips through our own code, and how they fail."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.delivery.crypto import (
    CryptoError,
    DecryptionIdentity,
    DemoPki,
    SignerIdentity,
    init_demo_pki,
    protect_der,
    protect_smime,
    sign_der,
    unprotect,
    unprotect_with,
)
from gateway.delivery.crypto.cms import envelope
from gateway.delivery.crypto.demo_pki import generate_key, issue_certificate
from gateway.delivery.crypto.keystore import parse_private_key
from gateway.domain.errors import GatewayError

PAYLOAD = b'{"reference": "MPC/2026/000123", "event": "MISSING"}\n' + bytes(range(256))


@pytest.fixture(scope="module", params=["ec", "rsa"])
def pki(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    """A demo PKI whose signing keys are ECDSA P-256 or RSA-3072."""
    return init_demo_pki(
        tmp_path_factory.mktemp(f"pki-{request.param}"), ["kent", "medway"], request.param
    )


def open_as(pki: DemoPki, party: str, data: bytes) -> bytes:
    """Unprotect `data` as `party`, trusting only the gateway's signing certificate."""
    identity = pki.parties[party].decryption()
    result = unprotect(
        data, identity.key, identity.certificate, [pki.gateway.signing_certificate()]
    )
    assert result.signer_subject.startswith("CN=gateway")
    return result.content


def test_p7m_round_trip_returns_the_payload_byte_for_byte(pki: DemoPki) -> None:
    p7m = protect_der(PAYLOAD, pki.gateway.signer(), [pki.parties["kent"].encryption_certificate()])

    assert p7m[:1] == b"\x30"  # DER, not PEM or MIME
    assert PAYLOAD[:20] not in p7m
    assert open_as(pki, "kent", p7m) == PAYLOAD


def test_signer_key_type_is_the_configured_one(pki: DemoPki) -> None:
    signer = pki.gateway.signer()

    assert isinstance(signer.key, ec.EllipticCurvePrivateKey) == (pki.key_type == "ec")


def test_smime_entity_round_trip_keeps_payload_type_and_name(pki: DemoPki) -> None:
    mail_body = protect_smime(
        PAYLOAD,
        pki.gateway.signer(),
        [pki.parties["kent"].encryption_certificate()],
        content_type="application/json",
        filename="notification.json",
    )
    identity = pki.parties["kent"].decryption()

    result = unprotect(
        mail_body, identity.key, identity.certificate, [pki.gateway.signing_certificate()]
    )

    assert result.content == PAYLOAD
    assert result.content_type == "application/json"
    assert result.filename == "notification.json"


def test_smime_entity_headers_are_what_mail_clients_expect(pki: DemoPki) -> None:
    mail_body = protect_smime(
        PAYLOAD, pki.gateway.signer(), [pki.parties["kent"].encryption_certificate()]
    )
    message = email.message_from_bytes(mail_body)

    assert message.get_content_type() == "application/pkcs7-mime"
    assert message.get_param("smime-type") == "enveloped-data"
    assert message.get_param("name") == "smime.p7m"
    assert message["Content-Transfer-Encoding"] == "base64"
    assert b"\n" not in mail_body.replace(b"\r\n", b"")  # CRLF line ends only


def test_every_recipient_can_open_a_copy_for_several(pki: DemoPki) -> None:
    certs = [pki.parties[name].encryption_certificate() for name in ("kent", "medway")]
    p7m = protect_der(PAYLOAD, pki.gateway.signer(), certs)

    assert open_as(pki, "kent", p7m) == PAYLOAD
    assert open_as(pki, "medway", p7m) == PAYLOAD


def test_wrong_recipient_cannot_open_it(pki: DemoPki) -> None:
    p7m = protect_der(PAYLOAD, pki.gateway.signer(), [pki.parties["kent"].encryption_certificate()])

    with pytest.raises(CryptoError) as caught:
        open_as(pki, "medway", p7m)

    assert caught.value.reason == "not_for_us"
    assert isinstance(caught.value, GatewayError)


def test_signature_by_an_unregistered_sender_is_refused(pki: DemoPki) -> None:
    medway = pki.parties["medway"]
    p7m = protect_der(PAYLOAD, medway.signer(), [pki.gateway.encryption_certificate()])
    identity = pki.gateway.decryption()

    with pytest.raises(CryptoError) as caught:
        unprotect(
            p7m, identity.key, identity.certificate, [pki.parties["kent"].signing_certificate()]
        )

    assert caught.value.reason == "untrusted_signer"
    assert "medway" in str(caught.value)


def test_a_forged_certificate_with_the_registered_name_is_refused(pki: DemoPki) -> None:
    """Same subject and serial as the registered certificate, but another key."""
    real = pki.parties["kent"].signing_certificate()
    forger_key = generate_key("ec")
    forged = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(real.issuer)
        .serial_number(real.serial_number)
        .public_key(forger_key.public_key())
        .not_valid_before(real.not_valid_before_utc)
        .not_valid_after(real.not_valid_after_utc)
        .sign(forger_key, hashes.SHA256())
    )
    p7m = protect_der(
        PAYLOAD, SignerIdentity(forger_key, forged), [pki.gateway.encryption_certificate()]
    )
    identity = pki.gateway.decryption()

    with pytest.raises(CryptoError) as caught:
        unprotect(p7m, identity.key, identity.certificate, [real])

    assert caught.value.reason == "bad_signature"


def _flip_content_byte(signed: bytes, content: bytes) -> bytes:
    at = signed.index(content) + 5
    return signed[:at] + bytes([signed[at] ^ 0x01]) + signed[at + 1 :]


def test_altered_content_fails_verification(pki: DemoPki) -> None:
    signed = sign_der(PAYLOAD, pki.gateway.signer())
    tampered = envelope(
        _flip_content_byte(signed, PAYLOAD),
        [pki.parties["kent"].encryption_certificate()],
        serialization.Encoding.DER,
    )

    with pytest.raises(CryptoError) as caught:
        open_as(pki, "kent", tampered)

    assert caught.value.reason == "bad_signature"


def test_altered_ciphertext_is_refused(pki: DemoPki) -> None:
    p7m = bytearray(
        protect_der(PAYLOAD, pki.gateway.signer(), [pki.parties["kent"].encryption_certificate()])
    )
    p7m[-40] ^= 0x01  # inside the encrypted content

    with pytest.raises(CryptoError) as caught:
        open_as(pki, "kent", bytes(p7m))

    assert caught.value.reason in {"bad_signature", "malformed"}


def test_encrypted_but_unsigned_content_is_refused(pki: DemoPki) -> None:
    unsigned = envelope(
        PAYLOAD, [pki.parties["kent"].encryption_certificate()], serialization.Encoding.DER
    )

    with pytest.raises(CryptoError) as caught:
        open_as(pki, "kent", unsigned)

    assert caught.value.reason in {"unsigned", "malformed"}


def test_signed_but_unencrypted_content_is_refused(pki: DemoPki) -> None:
    with pytest.raises(CryptoError) as caught:
        open_as(pki, "kent", sign_der(PAYLOAD, pki.gateway.signer()))

    assert caught.value.reason == "not_encrypted"


def test_garbage_is_malformed(pki: DemoPki) -> None:
    with pytest.raises(CryptoError) as caught:
        open_as(pki, "kent", b"\x30\x03abc")

    assert caught.value.reason == "malformed"


def test_previous_decryption_key_still_opens_copies_during_rotation(pki: DemoPki) -> None:
    old = pki.parties["kent"].decryption()
    new_key = generate_key("rsa")
    assert isinstance(new_key, rsa.RSAPrivateKey)
    ca = (pki.ca(), parse_private_key(pki.ca_key.read_bytes()))
    now = datetime.now(UTC)
    new_cert = issue_certificate(
        "kent (encryption, new)",
        new_key.public_key(),
        ca,
        usage="encryption",
        not_before=now - timedelta(hours=1),
        not_after=now + timedelta(days=365),
    )
    p7m = protect_der(PAYLOAD, pki.gateway.signer(), [old.certificate])

    result = unprotect_with(
        p7m, [DecryptionIdentity(new_key, new_cert), old], [pki.gateway.signing_certificate()]
    )

    assert result.content == PAYLOAD


def test_signature_by_an_expired_sender_certificate_is_refused_when_now_is_given(
    pki: DemoPki,
) -> None:
    p7m = protect_der(PAYLOAD, pki.gateway.signer(), [pki.parties["kent"].encryption_certificate()])
    identity = pki.parties["kent"].decryption()
    gateway_cert = pki.gateway.signing_certificate()
    later = gateway_cert.not_valid_after_utc + timedelta(days=1)

    with pytest.raises(CryptoError) as caught:
        unprotect(p7m, identity.key, identity.certificate, [gateway_cert], now=later)

    assert caught.value.reason == "untrusted_signer"
    assert "expired" in caught.value.detail


def test_encrypting_to_an_ec_certificate_is_refused_with_a_reason(pki: DemoPki) -> None:
    ec_cert = pki.parties["kent"].signing_certificate()
    if pki.key_type == "rsa":
        ec_key = generate_key("ec")
        ec_cert = issue_certificate(
            "ec-only",
            ec_key.public_key(),
            ec_key,
            usage="encryption",
            not_before=datetime.now(UTC) - timedelta(hours=1),
            not_after=datetime.now(UTC) + timedelta(days=1),
        )

    with pytest.raises(CryptoError) as caught:
        protect_der(PAYLOAD, pki.gateway.signer(), [ec_cert])

    assert caught.value.reason == "unusable_certificate"
    assert "RSA" in caught.value.detail


def test_a_key_that_does_not_match_its_certificate_is_refused(pki: DemoPki) -> None:
    with pytest.raises(CryptoError) as caught:
        SignerIdentity(generate_key("ec"), pki.gateway.signing_certificate())

    assert caught.value.reason == "key_mismatch"
