"""Our CMS, S/MIME and OpenPGP output against tools we did not write: `openssl cms` and `gpg`."""

from __future__ import annotations

import base64
import email
import subprocess
from pathlib import Path

import pytest

from gateway.delivery.crypto import (
    CryptoError,
    DemoPki,
    init_demo_pki,
    protect_der,
    protect_smime,
    unprotect,
)
from gateway.delivery.crypto.pgp import (
    PgpKeyPair,
    PgpSecretKey,
    generate_pgp_key,
    gpg_home,
    pgp_protect,
    pgp_unprotect,
)

PAYLOAD = b'<?xml version="1.0"?>\n<notification ref="MPC/2026/000123"/>\n' + bytes(range(256))
MIME_ENTITY = (
    b"Content-Type: application/xml\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(PAYLOAD).replace(b"\n", b"\r\n")
)


def openssl(*args: str | Path, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run `openssl` with `data` on stdin; return the finished process (not checked)."""
    return subprocess.run(
        ["openssl", *map(str, args)], input=data, capture_output=True, timeout=30, check=False
    )


def must(process: subprocess.CompletedProcess[bytes]) -> bytes:
    """Return stdout of a process that must have succeeded, else fail with its stderr."""
    assert process.returncode == 0, process.stderr.decode(errors="replace")
    return process.stdout


@pytest.fixture(scope="module", params=["ec", "rsa"])
def pki(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    """A demo PKI with a council (`kent`) and a force (`met`), signing keys EC or RSA."""
    return init_demo_pki(
        tmp_path_factory.mktemp(f"pki-{request.param}"), ["kent", "met"], request.param
    )


def test_p7m_decrypts_and_verifies_with_openssl(pki: DemoPki, tmp_path: Path) -> None:
    kent = pki.parties["kent"]
    p7m = protect_der(PAYLOAD, pki.gateway.signer(), [kent.encryption_certificate()])

    signed = must(
        openssl(
            "cms", "-decrypt", "-inform", "DER", "-binary",
            "-recip", kent.encryption.cert, "-inkey", kent.encryption.key,
            data=p7m,
        )
    )  # fmt: skip
    verified = openssl(
        "cms", "-verify", "-inform", "DER", "-binary", "-CAfile", pki.ca_cert, data=signed
    )

    assert must(verified) == PAYLOAD
    assert b"Verification successful" in verified.stderr


def test_openssl_rejects_the_p7m_when_the_ca_is_not_trusted(pki: DemoPki, tmp_path: Path) -> None:
    kent = pki.parties["kent"]
    p7m = protect_der(PAYLOAD, pki.gateway.signer(), [kent.encryption_certificate()])
    other = init_demo_pki(tmp_path / "other", [], "ec")
    signed = must(
        openssl(
            "cms", "-decrypt", "-inform", "DER", "-binary",
            "-recip", kent.encryption.cert, "-inkey", kent.encryption.key,
            data=p7m,
        )
    )  # fmt: skip

    verified = openssl("cms", "-verify", "-inform", "DER", "-CAfile", other.ca_cert, data=signed)

    assert verified.returncode != 0


def test_smime_mail_body_decrypts_and_verifies_with_openssl(pki: DemoPki) -> None:
    kent = pki.parties["kent"]
    body = protect_smime(
        PAYLOAD,
        pki.gateway.signer(),
        [kent.encryption_certificate()],
        content_type="application/xml",
        filename="notification.xml",
    )
    mail = b"From: gateway@example.org\r\nTo: mash@kent.example\r\nSubject: notification\r\n" + body

    signed_entity = must(
        openssl("cms", "-decrypt", "-recip", kent.encryption.cert, "-inkey", kent.encryption.key,
                data=mail)
    )  # fmt: skip
    verified = openssl("cms", "-verify", "-CAfile", pki.ca_cert, data=signed_entity)

    part = email.message_from_bytes(must(verified))
    assert b"Verification successful" in verified.stderr
    assert part.get_content_type() == "application/xml"
    assert part.get_filename() == "notification.xml"
    assert part.get_payload(decode=True) == PAYLOAD


@pytest.mark.parametrize(
    ("sign_args", "encrypt_format"),
    [
        pytest.param(["-binary", "-outform", "DER", "-nodetach"], "DER", id="p7m"),
        pytest.param(["-binary", "-outform", "DER", "-nodetach"], "PEM", id="pem"),
        pytest.param([], "SMIME", id="smime-detached"),
        pytest.param(["-nodetach"], "SMIME", id="smime-opaque"),
    ],
)
def test_message_made_by_openssl_is_unprotected_by_our_code(
    pki: DemoPki, sign_args: list[str], encrypt_format: str
) -> None:
    met = pki.parties["met"]
    # As a force's mail system would: the S/MIME forms sign a MIME entity, the .p7m raw bytes.
    content = MIME_ENTITY if encrypt_format == "SMIME" else PAYLOAD
    signed = must(
        openssl("cms", "-sign", "-signer", met.signing.cert, "-inkey", met.signing.key,
                *sign_args, data=content)
    )  # fmt: skip
    inform = [] if encrypt_format == "SMIME" else ["-inform", "DER", "-binary"]
    encrypted = must(
        openssl(
            "cms", "-encrypt", "-aes256", *inform, "-outform", encrypt_format,
            pki.gateway.encryption.cert,
            data=signed,
        )
    )  # fmt: skip
    ours = pki.gateway.decryption()

    result = unprotect(encrypted, ours.key, ours.certificate, [met.signing_certificate()])

    assert result.content == PAYLOAD
    assert "CN=met" in result.signer_subject


def test_openssl_message_from_an_unregistered_signer_is_refused(pki: DemoPki) -> None:
    kent = pki.parties["kent"]
    signed = must(
        openssl("cms", "-sign", "-signer", kent.signing.cert, "-inkey", kent.signing.key,
                "-binary", "-nodetach", "-outform", "DER", data=PAYLOAD)
    )  # fmt: skip
    encrypted = must(
        openssl("cms", "-encrypt", "-aes256", "-binary", "-inform", "DER", "-outform", "DER",
                pki.gateway.encryption.cert, data=signed)
    )  # fmt: skip
    ours = pki.gateway.decryption()

    with pytest.raises(CryptoError) as caught:
        unprotect(encrypted, ours.key, ours.certificate, [pki.parties["met"].signing_certificate()])

    assert caught.value.reason == "untrusted_signer"


def test_openssl_message_with_altered_detached_content_is_refused(pki: DemoPki) -> None:
    met = pki.parties["met"]
    signed = must(
        openssl("cms", "-sign", "-signer", met.signing.cert, "-inkey", met.signing.key,
                data=b"Content-Type: text/plain\r\n\r\nchild found safe\r\n")
    )  # fmt: skip
    altered = signed.replace(b"child found safe", b"child still lost")
    encrypted = must(
        openssl("cms", "-encrypt", "-aes256", pki.gateway.encryption.cert, data=altered)
    )
    ours = pki.gateway.decryption()

    with pytest.raises(CryptoError) as caught:
        unprotect(encrypted, ours.key, ours.certificate, [met.signing_certificate()])

    assert caught.value.reason == "bad_signature"


@pytest.fixture(scope="module")
def pgp_keys() -> dict[str, PgpKeyPair]:
    """OpenPGP keys for the gateway and a council."""
    return {
        "gateway": generate_pgp_key("Gateway", "gateway@demo.invalid"),
        "kent": generate_pgp_key("Kent MASH", "mash@kent.demo.invalid"),
    }


def gpg_decrypt(data: bytes, secret: bytes, public: bytes) -> tuple[bytes, list[str]]:
    """Decrypt with the `gpg` CLI in a home holding only `secret` and `public`; return status."""
    with gpg_home() as gpg:
        home = gpg.gnupghome
        for key in (secret, public):
            must_gpg = subprocess.run(
                ["gpg", "--homedir", home, "--batch", "--import"],
                input=key, capture_output=True, timeout=30, check=False,
            )  # fmt: skip
            assert must_gpg.returncode == 0, must_gpg.stderr
        result = subprocess.run(
            ["gpg", "--homedir", home, "--batch", "--status-fd", "2", "--decrypt"],
            input=data, capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        status = [
            line.removeprefix("[GNUPG:] ")
            for line in result.stderr.decode(errors="replace").splitlines()
            if line.startswith("[GNUPG:] ")
        ]
        return result.stdout, status


def test_pgp_output_decrypts_and_verifies_with_gpg(pgp_keys: dict[str, PgpKeyPair]) -> None:
    gateway, kent = pgp_keys["gateway"], pgp_keys["kent"]
    armored = pgp_protect(PAYLOAD, PgpSecretKey(gateway.secret), kent.public)

    plaintext, status = gpg_decrypt(armored, kent.secret, gateway.public)

    assert armored.startswith(b"-----BEGIN PGP MESSAGE-----")
    assert plaintext == PAYLOAD
    assert "DECRYPTION_OKAY" in status
    assert any(line.startswith("GOODSIG ") for line in status)
    valid = [line.split() for line in status if line.startswith("VALIDSIG ")]
    assert valid, status
    assert valid[0][-1] == gateway.fingerprint  # primary key fingerprint of the signer


def test_pgp_message_made_by_gpg_is_unprotected_by_our_code(
    pgp_keys: dict[str, PgpKeyPair],
) -> None:
    gateway, kent = pgp_keys["gateway"], pgp_keys["kent"]
    with gpg_home() as gpg:
        home = gpg.gnupghome
        for key in (kent.secret, gateway.public):
            subprocess.run(["gpg", "--homedir", home, "--batch", "--import"], input=key,
                           capture_output=True, timeout=30, check=True)  # fmt: skip
        made = subprocess.run(
            ["gpg", "--homedir", home, "--batch", "--trust-model", "always", "--armor",
             "--sign", "--encrypt", "--recipient", gateway.fingerprint],
            input=PAYLOAD, capture_output=True, timeout=30, check=True,
        ).stdout  # fmt: skip

    result = pgp_unprotect(made, PgpSecretKey(gateway.secret), [kent.public])

    assert result.content == PAYLOAD
    assert result.signer_fingerprint == kent.fingerprint
    assert "Kent MASH" in result.signer_subject


def test_pgp_round_trip_refuses_wrong_recipient_and_unknown_signer(
    pgp_keys: dict[str, PgpKeyPair],
) -> None:
    gateway, kent = pgp_keys["gateway"], pgp_keys["kent"]
    armored = pgp_protect(PAYLOAD, PgpSecretKey(gateway.secret), kent.public)

    assert pgp_unprotect(armored, PgpSecretKey(kent.secret), [gateway.public]).content == PAYLOAD
    with pytest.raises(CryptoError) as wrong_recipient:
        pgp_unprotect(armored, PgpSecretKey(gateway.secret), [gateway.public])
    with pytest.raises(CryptoError) as unknown_signer:
        pgp_unprotect(armored, PgpSecretKey(kent.secret), [kent.public])

    assert wrong_recipient.value.reason == "not_for_us"
    assert unknown_signer.value.reason == "untrusted_signer"


def test_pgp_message_altered_in_transit_is_refused(pgp_keys: dict[str, PgpKeyPair]) -> None:
    gateway, kent = pgp_keys["gateway"], pgp_keys["kent"]
    armored = pgp_protect(PAYLOAD, PgpSecretKey(gateway.secret), kent.public)
    with gpg_home() as gpg:
        dearmored = subprocess.run(
            ["gpg", "--homedir", gpg.gnupghome, "--batch", "--dearmor"],
            input=armored, capture_output=True, timeout=30, check=True,
        ).stdout  # fmt: skip
    binary = bytearray(dearmored)
    binary[-30] ^= 0x01  # inside the encrypted, integrity-protected packet

    with pytest.raises(CryptoError) as caught:
        pgp_unprotect(bytes(binary), PgpSecretKey(kent.secret), [gateway.public])

    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(["-keyid"], id="subject-key-identifier"),
        pytest.param(["-noattr"], id="no-signed-attributes"),
        pytest.param(["-md", "sha384"], id="sha384"),
        pytest.param(["-md", "sha512"], id="sha512"),
        pytest.param(["-keyopt", "rsa_padding_mode:pss"], id="rsa-pss"),
    ],
)
def test_openssl_signature_variants_verify(pki: DemoPki, variant: list[str]) -> None:
    if "rsa_padding_mode:pss" in variant and pki.key_type != "rsa":
        variant = []  # PSS applies to RSA keys only; the EC run checks the plain form again
    met = pki.parties["met"]
    signed = must(
        openssl("cms", "-sign", "-signer", met.signing.cert, "-inkey", met.signing.key,
                "-binary", "-nodetach", "-outform", "DER", *variant, data=PAYLOAD)
    )  # fmt: skip
    encrypted = must(
        openssl("cms", "-encrypt", "-aes256", "-binary", "-inform", "DER", "-outform", "DER",
                pki.gateway.encryption.cert, data=signed)
    )  # fmt: skip
    ours = pki.gateway.decryption()

    result = unprotect(encrypted, ours.key, ours.certificate, [met.signing_certificate()])

    assert result.content == PAYLOAD


def test_openssl_signature_over_other_content_is_refused(pki: DemoPki) -> None:
    """Swap the signed content for other bytes signed by nobody: the digest check must fail."""
    met = pki.parties["met"]
    signed = must(
        openssl("cms", "-sign", "-signer", met.signing.cert, "-inkey", met.signing.key,
                "-binary", "-nodetach", "-outform", "DER", "-noattr", data=PAYLOAD)
    )  # fmt: skip
    swapped = signed.replace(b"MPC/2026/000123", b"MPC/2026/999999")
    assert swapped != signed
    encrypted = must(
        openssl("cms", "-encrypt", "-aes256", "-binary", "-inform", "DER", "-outform", "DER",
                pki.gateway.encryption.cert, data=swapped)
    )  # fmt: skip
    ours = pki.gateway.decryption()

    with pytest.raises(CryptoError) as caught:
        unprotect(encrypted, ours.key, ours.certificate, [met.signing_certificate()])

    assert caught.value.reason == "bad_signature"


def test_pgp_refuses_an_expired_recipient_key(pgp_keys: dict[str, PgpKeyPair]) -> None:
    """A key made by gpg with a faked clock in 2020, valid for one day."""
    in_2020 = ["--batch", "--passphrase", "", "--faked-system-time", "20200101T000000"]
    with gpg_home() as gpg:

        def run(*args: str) -> bytes:
            return subprocess.run(
                ["gpg", "--homedir", gpg.gnupghome, *args],
                capture_output=True, timeout=30, check=True,
            ).stdout  # fmt: skip

        run(*in_2020, "--quick-gen-key", "Old <old@demo.invalid>", "ed25519", "sign", "1d")
        listing = run("--with-colons", "--list-keys").decode()
        fingerprint = next(
            line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr")
        )
        run(*in_2020, "--quick-add-key", fingerprint, "cv25519", "encr", "1d")
        expired = run("--armor", "--export", fingerprint)

    with pytest.raises(CryptoError) as caught:
        pgp_protect(PAYLOAD, PgpSecretKey(pgp_keys["gateway"].secret), expired)

    assert caught.value.reason == "unusable_certificate"
    assert "expired" in caught.value.detail
