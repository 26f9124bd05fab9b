"""The outbox's protect step: the right form per channel, and refusals a coordinator can read."""

from __future__ import annotations

import email
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.delivery.crypto import (
    CryptoError,
    DemoPki,
    KeyPairPaths,
    KeyStore,
    init_demo_pki,
    unprotect,
)
from gateway.delivery.crypto.channel import MessageProtector, PgpKeyFile
from gateway.delivery.crypto.demo_pki import (
    PgpKeyFiles,
    init_demo_pgp_keys,
    issue_certificate,
    write_certificate,
)
from gateway.delivery.crypto.keystore import parse_certificate, parse_private_key
from gateway.delivery.crypto.pgp import PgpSecretKey, pgp_unprotect
from gateway.delivery.errors import TransientDeliveryError
from gateway.domain.routing import Channel


@dataclass(frozen=True)
class Rendered:
    """A rendered copy as a case-system adapter returns it."""

    content: bytes
    media_type: str
    suffix: str


COPY = Rendered(b'{"event": "FOUND"}', "application/json", ".json")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    """A demo PKI with one council."""
    return init_demo_pki(tmp_path_factory.mktemp("pki"), ["kent"])


@pytest.fixture(scope="module")
def pgp(pki: DemoPki) -> dict[str, PgpKeyFiles]:
    """Demo OpenPGP keys for the gateway and the council."""
    return init_demo_pgp_keys(pki.root, ["kent"])


def protector(
    pki: DemoPki, warnings: list[str] | None = None, **kwargs: object
) -> MessageProtector:
    """A protector over the demo PKI whose clock reads now."""
    sink = warnings if warnings is not None else []
    return MessageProtector(
        pki.keystore(),
        pki.ca_cert,
        lambda: datetime.now(UTC),
        on_warning=lambda channel, message: sink.append(message),
        **kwargs,  # type: ignore[arg-type]
    )


def channel(kind: str, certificate: Path | None, encryption: str = "cms") -> Channel:
    """A channel of `kind` with the given recipient certificate or key file."""
    return Channel(
        kind=kind,
        address="mash@kent.example" if kind == "smtp" else "/drop/kent",
        encryption=encryption,
        certificate=str(certificate) if certificate else None,
    )


def open_as_kent(pki: DemoPki, data: bytes) -> bytes:
    """Decrypt and verify as the council."""
    kent = pki.parties["kent"].decryption()
    return unprotect(data, kent.key, kent.certificate, [pki.gateway.signing_certificate()]).content


def test_file_channel_gets_a_p7m(pki: DemoPki) -> None:
    content, suffix, media_type = protector(pki)(
        COPY, channel("sftp", pki.parties["kent"].encryption.cert)
    )

    assert suffix == ".json.p7m"
    assert media_type.startswith("application/pkcs7-mime")
    assert content[:1] == b"\x30"
    assert open_as_kent(pki, content) == COPY.content


def test_mail_channel_gets_an_smime_entity(pki: DemoPki) -> None:
    content, _, media_type = protector(pki)(
        COPY, channel("smtp", pki.parties["kent"].encryption.cert)
    )

    assert email.message_from_bytes(content).get_param("smime-type") == "enveloped-data"
    assert "smime-type=enveloped-data" in media_type
    assert open_as_kent(pki, content) == COPY.content


def test_no_encryption_passes_the_copy_through(pki: DemoPki) -> None:
    assert protector(pki)(COPY, channel("folder", None, "none")) == (
        COPY.content,
        ".json",
        "application/json",
    )


def test_missing_certificate_is_a_readable_refusal(pki: DemoPki) -> None:
    with pytest.raises(CryptoError) as caught:
        protector(pki)(COPY, channel("sftp", None))

    assert caught.value.reason == "unusable_certificate"
    assert "no" in caught.value.detail


def _reissued(pki: DemoPki, tmp_path: Path, days_left: float) -> Path:
    """Kent's encryption key in a certificate that expires `days_left` days from now."""
    now = datetime.now(UTC)
    key = parse_private_key(pki.parties["kent"].encryption.key.read_bytes())
    cert = issue_certificate(
        "kent (short-lived)",
        key.public_key(),
        (pki.ca(), parse_private_key(pki.ca_key.read_bytes())),
        usage="encryption",
        not_before=now - timedelta(days=400),
        not_after=now + timedelta(days=days_left),
    )
    path = tmp_path / f"kent-{days_left}.pem"
    write_certificate(path, cert)
    return path


def test_expired_recipient_certificate_is_refused(pki: DemoPki, tmp_path: Path) -> None:
    with pytest.raises(CryptoError) as caught:
        protector(pki)(COPY, channel("sftp", _reissued(pki, tmp_path, -1)))

    assert caught.value.reason == "unusable_certificate"
    assert "expired on" in caught.value.detail


def test_revoked_recipient_certificate_is_refused(pki: DemoPki) -> None:
    cert_path = pki.parties["kent"].encryption.cert
    serial = pki.parties["kent"].encryption_certificate().serial_number

    with pytest.raises(CryptoError) as caught:
        protector(pki, revoked_serials={serial})(COPY, channel("sftp", cert_path))

    assert "revoked" in caught.value.detail


def test_certificate_close_to_expiry_is_used_and_reported(pki: DemoPki, tmp_path: Path) -> None:
    warnings: list[str] = []
    short_lived = _reissued(pki, tmp_path, 10.5)

    content, _, _ = protector(pki, warnings)(COPY, channel("sftp", short_lived))

    kent_key = pki.parties["kent"].decryption().key
    opened = unprotect(
        content,
        kent_key,
        parse_certificate(short_lived.read_bytes()),
        [pki.gateway.signing_certificate()],
    )
    assert opened.content == COPY.content
    assert len(warnings) == 1
    assert "(in 10 days): renew it" in warnings[0]


def test_signing_key_caught_mid_rotation_is_retried_later(pki: DemoPki) -> None:
    new_key_old_cert = KeyPairPaths(
        key=pki.parties["kent"].signing.key, cert=pki.gateway.signing.cert
    )
    guard = MessageProtector(KeyStore(new_key_old_cert), pki.ca_cert, lambda: datetime.now(UTC))

    with pytest.raises(TransientDeliveryError):
        guard(COPY, channel("sftp", pki.parties["kent"].encryption.cert))


def test_pgp_channel_gets_an_armored_message(pki: DemoPki, pgp: dict[str, PgpKeyFiles]) -> None:
    guard = protector(pki, pgp_key=PgpKeyFile(pgp["gateway"].secret))

    content, suffix, media_type = guard(COPY, channel("sftp", pgp["kent"].public, "pgp"))

    assert suffix == ".json.asc"
    assert media_type == "application/pgp-encrypted"
    result = pgp_unprotect(
        content, PgpSecretKey(pgp["kent"].secret.read_bytes()), [pgp["gateway"].public.read_bytes()]
    )
    assert result.content == COPY.content


def test_pgp_channel_without_a_gateway_pgp_key_is_refused(
    pki: DemoPki, pgp: dict[str, PgpKeyFiles]
) -> None:
    with pytest.raises(CryptoError) as caught:
        protector(pki)(COPY, channel("sftp", pgp["kent"].public, "pgp"))

    assert "no PGP key" in caught.value.detail


def test_bundle_with_an_expired_and_a_good_certificate_uses_the_good_one_and_says_so(
    pki: DemoPki, tmp_path: Path
) -> None:
    bundle = tmp_path / "kent-bundle.pem"
    bundle.write_bytes(
        _reissued(pki, tmp_path, -5).read_bytes() + pki.parties["kent"].encryption.cert.read_bytes()
    )
    warnings: list[str] = []

    content, _, _ = protector(pki, warnings)(COPY, channel("sftp", bundle))

    assert open_as_kent(pki, content) == COPY.content
    assert len(warnings) == 1
    assert "skipped" in warnings[0]
    assert "expired on" in warnings[0]
