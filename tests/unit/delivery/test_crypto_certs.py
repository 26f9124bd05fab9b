"""Certificate checks: chain, key usage, validity period, revocation, expiry warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from gateway.delivery.crypto import validate_certificate
from gateway.delivery.crypto.demo_pki import Usage, generate_key, issue_certificate
from gateway.delivery.crypto.identity import SigningKey

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
CA = tuple[x509.Certificate, SigningKey]


@pytest.fixture(scope="module")
def ca() -> CA:
    """A self-signed CA valid around NOW."""
    key = generate_key("ec")
    cert = issue_certificate(
        "Test CA",
        key.public_key(),
        key,
        usage="ca",
        not_before=NOW - YEAR,
        not_after=NOW + 5 * YEAR,
    )
    return cert, key


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    """One RSA-3072 key reused for every leaf (key generation is the slow part)."""
    return generate_key("rsa")


def leaf(
    issuer: tuple[x509.Certificate, SigningKey],
    key: SigningKey,
    *,
    usage: Usage = "encryption",
    not_before: datetime = NOW - YEAR,
    not_after: datetime = NOW + YEAR,
    serial: int | None = None,
) -> x509.Certificate:
    """Issue a leaf certificate with the given usage and dates."""
    return issue_certificate(
        "Kent MASH",
        key.public_key(),
        issuer,
        usage=usage,
        not_before=not_before,
        not_after=not_after,
        serial=serial,
    )


def test_good_encryption_certificate_is_usable_without_warnings(
    ca: CA, rsa_key: SigningKey
) -> None:
    status = validate_certificate(leaf(ca, rsa_key), [ca[0]], NOW)

    assert status.usable
    assert status.warnings == ()
    assert status.reason == "valid for encryption until 2027-06-01"
    assert "CN=Kent MASH" in status.subject


def test_expired_certificate_is_unusable(ca: CA, rsa_key: SigningKey) -> None:
    cert = leaf(ca, rsa_key, not_after=NOW - timedelta(days=2))

    status = validate_certificate(cert, [ca[0]], NOW)

    assert not status.usable
    assert status.reason.startswith("expired on 2026-05-30")


def test_not_yet_valid_certificate_is_unusable(ca: CA, rsa_key: SigningKey) -> None:
    cert = leaf(ca, rsa_key, not_before=NOW + timedelta(days=3))

    status = validate_certificate(cert, [ca[0]], NOW)

    assert not status.usable
    assert status.reason.startswith("not valid until 2026-06-04")


def test_expiring_within_30_days_is_usable_with_a_warning(ca: CA, rsa_key: SigningKey) -> None:
    cert = leaf(ca, rsa_key, not_after=NOW + timedelta(days=20))

    status = validate_certificate(cert, [ca[0]], NOW)

    assert status.usable
    assert len(status.warnings) == 1
    assert "expires on 2026-06-21 (in 20 days)" in status.warnings[0]


def test_expiring_in_31_days_gives_no_warning(ca: CA, rsa_key: SigningKey) -> None:
    cert = leaf(ca, rsa_key, not_after=NOW + timedelta(days=31))

    assert validate_certificate(cert, [ca[0]], NOW).warnings == ()


def test_signing_only_certificate_cannot_be_encrypted_to(ca: CA, rsa_key: SigningKey) -> None:
    cert = leaf(ca, rsa_key, usage="signing")

    encryption = validate_certificate(cert, [ca[0]], NOW, purpose="encryption")
    signing = validate_certificate(cert, [ca[0]], NOW, purpose="signing")

    assert not encryption.usable
    assert "keyEncipherment" in encryption.reason
    assert signing.usable


def test_encryption_only_certificate_cannot_sign(ca: CA, rsa_key: SigningKey) -> None:
    status = validate_certificate(leaf(ca, rsa_key), [ca[0]], NOW, purpose="signing")

    assert not status.usable
    assert "digitalSignature" in status.reason


def test_ec_certificate_cannot_be_encrypted_to(ca: CA) -> None:
    status = validate_certificate(leaf(ca, generate_key("ec")), [ca[0]], NOW)

    assert not status.usable
    assert "RSA" in status.reason


def test_unknown_issuer_is_unusable(ca: CA, rsa_key: SigningKey) -> None:
    other_key = generate_key("ec")
    other_ca = issue_certificate(
        "Other CA", other_key.public_key(), other_key, usage="ca",
        not_before=NOW - YEAR, not_after=NOW + YEAR,
    )  # fmt: skip
    cert = leaf((other_ca, other_key), rsa_key)

    status = validate_certificate(cert, [ca[0]], NOW)

    assert not status.usable
    assert "CN=Other CA" in status.reason
    assert "not a trusted CA" in status.reason


def test_same_issuer_name_but_forged_signature_is_unusable(ca: CA, rsa_key: SigningKey) -> None:
    """An impostor CA with the trusted CA's name: the signature check must catch it."""
    impostor_key = generate_key("ec")
    cert = leaf((ca[0], impostor_key), rsa_key)

    status = validate_certificate(cert, [ca[0]], NOW)

    assert not status.usable
    assert "not a trusted CA" in status.reason


def test_intermediate_ca_chain_is_followed(ca: CA, rsa_key: SigningKey) -> None:
    sub_key = generate_key("ec")
    sub = issue_certificate(
        "Sub CA", sub_key.public_key(), ca, usage="ca", not_before=NOW - YEAR, not_after=NOW + YEAR
    )
    cert = leaf((sub, sub_key), rsa_key)

    assert validate_certificate(cert, [ca[0], sub], NOW).usable
    assert not validate_certificate(cert, [ca[0]], NOW).usable


def test_leaf_issued_by_a_non_ca_certificate_is_unusable(ca: CA, rsa_key: SigningKey) -> None:
    middle_key = generate_key("ec")
    middle = issue_certificate(
        "Not A CA", middle_key.public_key(), ca, usage="signing",
        not_before=NOW - YEAR, not_after=NOW + YEAR,
    )  # fmt: skip
    cert = leaf((middle, middle_key), rsa_key)

    status = validate_certificate(cert, [ca[0], middle], NOW)

    assert not status.usable
    assert "not marked as a CA" in status.reason


def test_revoked_serial_is_unusable(ca: CA, rsa_key: SigningKey) -> None:
    cert = leaf(ca, rsa_key, serial=0x1234)

    status = validate_certificate(cert, [ca[0]], NOW, revoked_serials={0x1234})

    assert not status.usable
    assert "revoked" in status.reason


def crl_from(
    issuer: tuple[x509.Certificate, SigningKey], serials: list[int], next_update: datetime
) -> x509.CertificateRevocationList:
    """Build a CRL signed by `issuer` listing `serials`."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer[0].subject)
        .last_update(NOW - timedelta(days=1))
        .next_update(next_update)
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(NOW - timedelta(days=1))
            .build()
        )
    return builder.sign(issuer[1], hashes.SHA256())


def test_certificate_on_the_crl_is_unusable(ca: CA, rsa_key: SigningKey) -> None:
    cert = leaf(ca, rsa_key, serial=0x5678)
    crl = crl_from(ca, [0x5678], NOW + timedelta(days=7))

    status = validate_certificate(cert, [ca[0]], NOW, crls=[crl])

    assert not status.usable
    assert status.reason == "revoked on 2026-05-31 (CRL)"


def test_certificate_not_on_the_crl_is_usable_and_a_stale_crl_warns(
    ca: CA, rsa_key: SigningKey
) -> None:
    cert = leaf(ca, rsa_key, serial=0x9999)
    fresh = crl_from(ca, [0x5678], NOW + timedelta(days=7))
    stale = crl_from(ca, [0x5678], NOW - timedelta(hours=1))

    assert validate_certificate(cert, [ca[0]], NOW, crls=[fresh]).warnings == ()
    status = validate_certificate(cert, [ca[0]], NOW, crls=[stale])

    assert status.usable
    assert any("CRL is out of date" in warning for warning in status.warnings)


def test_crl_not_signed_by_the_ca_is_ignored_with_a_warning(ca: CA, rsa_key: SigningKey) -> None:
    cert = leaf(ca, rsa_key, serial=0x5678)
    forged = crl_from((ca[0], generate_key("ec")), [0x5678], NOW + timedelta(days=7))

    status = validate_certificate(cert, [ca[0]], NOW, crls=[forged])

    assert status.usable
    assert any("bad signature" in warning for warning in status.warnings)


def test_expired_ca_makes_the_leaf_unusable(rsa_key: SigningKey) -> None:
    key = generate_key("ec")
    old_ca = issue_certificate(
        "Old CA", key.public_key(), key, usage="ca",
        not_before=NOW - 3 * YEAR, not_after=NOW - timedelta(days=1),
    )  # fmt: skip
    cert = leaf((old_ca, key), rsa_key)

    status = validate_certificate(cert, [old_ca], NOW)

    assert not status.usable
    assert "outside its validity period" in status.reason
