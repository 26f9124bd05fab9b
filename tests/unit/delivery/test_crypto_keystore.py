"""Demo PKI files and the key store that notices rotated key and certificate files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.delivery.crypto import (
    CertificateDirectory,
    CryptoError,
    KeyPairPaths,
    KeyStore,
    init_demo_pki,
    validate_certificate,
)
from gateway.delivery.crypto.demo_pki import DemoPki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    """A demo PKI with two parties, EC signing keys (the default)."""
    return init_demo_pki(tmp_path_factory.mktemp("pki"), ["kent", "met"])


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_demo_pki_writes_the_documented_layout(pki: DemoPki) -> None:
    names = set(snapshot(pki.root))

    assert names == {
        "ca.pem", "ca.key",
        "gateway.pem", "gateway.key", "gateway-enc.pem", "gateway-enc.key",
        "parties/kent.pem", "parties/kent.key", "parties/kent-enc.pem", "parties/kent-enc.key",
        "parties/met.pem", "parties/met.key", "parties/met-enc.pem", "parties/met-enc.key",
    }  # fmt: skip


def test_demo_private_keys_are_readable_by_the_owner_only(pki: DemoPki) -> None:
    keys = list(pki.root.rglob("*.key"))

    assert len(keys) == 7
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_demo_certificates_are_usable_for_their_purpose(pki: DemoPki) -> None:
    ca = [pki.ca()]
    now = pki.ca().not_valid_before_utc.replace(year=pki.ca().not_valid_before_utc.year + 1)
    kent = pki.parties["kent"]

    assert validate_certificate(kent.encryption_certificate(), ca, now).usable
    assert validate_certificate(kent.signing_certificate(), ca, now, purpose="signing").usable
    assert not validate_certificate(kent.signing_certificate(), ca, now).usable


def test_demo_pki_is_idempotent_and_adds_new_parties_only(pki: DemoPki) -> None:
    before = snapshot(pki.root)

    again = init_demo_pki(pki.root, ["kent", "met", "medway"])

    after = snapshot(pki.root)
    assert {k: v for k, v in after.items() if "medway" not in k} == before
    assert "parties/medway-enc.pem" in after
    assert again.parties["medway"].signing_certificate().issuer == pki.ca().subject


def test_a_new_ca_reissues_every_certificate(tmp_path: Path) -> None:
    first = init_demo_pki(tmp_path, ["kent"])
    old_kent = first.parties["kent"].encryption_certificate()
    first.ca_key.unlink()

    second = init_demo_pki(tmp_path, ["kent"])

    new_kent = second.parties["kent"].encryption_certificate()
    assert new_kent != old_kent
    new_kent.verify_directly_issued_by(second.ca())


def test_demo_pki_refuses_names_that_are_not_file_safe(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="party name"):
        init_demo_pki(tmp_path, ["../etc"])


def _copy_pair(source: KeyPairPaths, key: Path, cert: Path) -> None:
    """Replace key and certificate files the way an operator rotates them: write, rename."""
    for src, dst in ((source.key, key), (source.cert, cert)):
        tmp = dst.with_suffix(".new")
        tmp.write_bytes(src.read_bytes())
        os.replace(tmp, dst)


def test_keystore_picks_up_rotated_files_without_restart(pki: DemoPki, tmp_path: Path) -> None:
    key, cert = tmp_path / "signing.key", tmp_path / "signing.pem"
    _copy_pair(pki.parties["kent"].signing, key, cert)
    store = KeyStore(KeyPairPaths(key, cert))
    assert "CN=kent" in store.signer().certificate.subject.rfc4514_string()

    _copy_pair(pki.parties["met"].signing, key, cert)

    assert "CN=met" in store.signer().certificate.subject.rfc4514_string()


def test_keystore_reports_a_half_finished_rotation(pki: DemoPki, tmp_path: Path) -> None:
    key, cert = tmp_path / "signing.key", tmp_path / "signing.pem"
    _copy_pair(pki.parties["kent"].signing, key, cert)
    store = KeyStore(KeyPairPaths(key, cert))
    os.replace(_staged(pki.parties["met"].signing.key, tmp_path), key)  # key only

    with pytest.raises(CryptoError) as caught:
        store.signer()

    assert caught.value.reason == "key_mismatch"


def _staged(source: Path, folder: Path) -> Path:
    staged = folder / "staged"
    staged.write_bytes(source.read_bytes())
    return staged


def test_keystore_gives_decryption_identities_current_first(pki: DemoPki) -> None:
    store = KeyStore(pki.gateway.signing, [pki.parties["kent"].encryption, pki.gateway.encryption])

    identities = store.decryption_identities()

    assert [i.certificate for i in identities] == [
        pki.parties["kent"].encryption_certificate(),
        pki.gateway.encryption_certificate(),
    ]


def test_certificate_directory_rereads_only_changed_files(pki: DemoPki, tmp_path: Path) -> None:
    path = tmp_path / "kent.pem"
    path.write_bytes(pki.parties["kent"].encryption.cert.read_bytes())
    directory = CertificateDirectory()
    first = directory.certificate(path)

    assert directory.certificate(path) is first  # cached, not parsed again
    _copy_pair(pki.parties["met"].encryption, tmp_path / "unused.key", path)

    assert directory.certificate(path) == pki.parties["met"].encryption_certificate()


def test_missing_or_garbage_files_raise_a_crypto_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    directory = CertificateDirectory()

    with pytest.raises(CryptoError, match=r"missing\.pem"):
        directory.certificate(tmp_path / "missing.pem")
    with pytest.raises(CryptoError, match=r"garbage\.pem"):
        directory.certificate(garbage)
