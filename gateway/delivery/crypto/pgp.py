"""OpenPGP sign-and-encrypt through GnuPG (`python-gnupg` driving the `gpg` binary).

Every operation runs in a fresh temporary GNUPGHOME holding only the keys it needs, imported
from armored text, and is torn down afterwards (its gpg-agent stopped, the folder removed). So
no keyring state is shared between deliveries or workers, and `--trust-model always` is safe:
the only keys gpg can see are the ones the caller chose.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import gnupg

from gateway.delivery.crypto.errors import CryptoError
from gateway.delivery.crypto.identity import VerifiedPayload

PGP_MEDIA_TYPE = "application/pgp-encrypted"
PGP_SUFFIX = ".asc"
_GPG = "gpg"


@dataclass(frozen=True)
class PgpSecretKey:
    """An armored OpenPGP secret key (ours) and its passphrase, if it has one."""

    armored: bytes
    passphrase: str | None = None


@dataclass(frozen=True)
class PgpKeyPair:
    """A generated key: armored secret and public halves and the primary key fingerprint."""

    secret: bytes
    public: bytes
    fingerprint: str


@contextmanager
def gpg_home() -> Iterator[gnupg.GPG]:
    """Yield a GPG bound to a new empty GNUPGHOME, and remove it (and its agent) afterwards."""
    # A short path under /tmp keeps the agent socket path within the 108-byte limit.
    home = tempfile.mkdtemp(prefix="gpg-", dir="/tmp")
    try:
        yield gnupg.GPG(gpgbinary=_GPG, gnupghome=home)
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", home, "--kill", "gpg-agent"],
            check=False,
            capture_output=True,
            timeout=10,
        )
        shutil.rmtree(home, ignore_errors=True)


def _import_one(gpg: gnupg.GPG, armored: bytes, what: str) -> str:
    """Import armored key text that must hold exactly one primary key; return its fingerprint."""
    result = gpg.import_keys(armored)
    fingerprints = sorted(set(result.fingerprints))
    if len(fingerprints) != 1:
        raise CryptoError(
            "malformed", f"{what}: expected one OpenPGP key, found {len(fingerprints)}"
        )
    return str(fingerprints[0])


def pgp_protect(
    payload: bytes,
    signer: PgpSecretKey,
    recipient_public_keys: bytes | Sequence[bytes],
) -> bytes:
    """Sign `payload` with our key and encrypt it to each recipient's key: armored OpenPGP."""
    keys = (
        [recipient_public_keys]
        if isinstance(recipient_public_keys, bytes)
        else list(recipient_public_keys)
    )
    if not keys:
        raise CryptoError("unusable_certificate", "no recipient OpenPGP key to encrypt to")
    with gpg_home() as gpg:
        signer_fpr = _import_one(gpg, signer.armored, "signing key")
        recipients = [_import_one(gpg, key, f"recipient key {n + 1}") for n, key in enumerate(keys)]
        result = gpg.encrypt(
            payload,
            recipients,
            sign=signer_fpr,
            passphrase=signer.passphrase,
            always_trust=True,
            armor=True,
            extra_args=[
                "--no-auto-key-locate",
                "--cipher-algo",
                "AES256",
                "--digest-algo",
                "SHA256",
            ],
        )
        if not result.ok:
            raise _encrypt_error(result)
        return bytes(result.data)


def _encrypt_error(result: gnupg.Crypt) -> CryptoError:
    stderr = result.stderr or ""
    if "INV_RECP" in stderr or "KEYEXPIRED" in stderr or "KEYREVOKED" in stderr:
        return CryptoError("unusable_certificate", f"recipient key not usable: {result.status}")
    if "INV_SGNR" in stderr or "BAD_PASSPHRASE" in stderr:
        return CryptoError("key_mismatch", f"our signing key not usable: {result.status}")
    return CryptoError("gpg_failed", f"gpg could not encrypt: {result.status}")


def pgp_unprotect(
    data: bytes,
    our_key: PgpSecretKey,
    trusted_sender_public_keys: Sequence[bytes],
) -> VerifiedPayload:
    """Decrypt armored or binary OpenPGP data and require a good signature by a trusted key."""
    with gpg_home() as gpg:
        _import_one(gpg, our_key.armored, "our secret key")
        trusted = {_import_one(gpg, key, "sender key") for key in trusted_sender_public_keys}
        result = gpg.decrypt(data, passphrase=our_key.passphrase, always_trust=True)
        stderr = result.stderr or ""
        if "[GNUPG:]" not in stderr or ("NODATA" in stderr and "BEGIN_DECRYPTION" not in stderr):
            first = stderr.strip().splitlines()[:1]
            raise CryptoError("malformed", f"not OpenPGP data, or damaged: {' '.join(first)}")
        if "BEGIN_DECRYPTION" not in stderr and "NO_SECKEY" not in stderr:
            raise CryptoError("not_encrypted", "the message is not OpenPGP encrypted data")
        if "DECRYPTION_OKAY" not in stderr:
            if "NO_SECKEY" in stderr:
                raise CryptoError("not_for_us", "not encrypted to our OpenPGP key")
            raise CryptoError("bad_signature", "integrity check failed: the message was altered")
        if "BADSIG" in stderr:
            raise CryptoError("bad_signature", "OpenPGP signature does not verify (altered)")
        if "NO_PUBKEY" in stderr:
            raise CryptoError("untrusted_signer", f"signed by unregistered key {result.key_id}")
        if not result.valid:
            if "NEWSIG" not in stderr and "GOODSIG" not in stderr:
                raise CryptoError("unsigned", "OpenPGP message carries no signature")
            raise CryptoError("bad_signature", f"signature not valid: {result.status}")
        primary = result.pubkey_fingerprint or result.fingerprint
        if primary not in trusted:
            raise CryptoError("untrusted_signer", f"signed by unregistered key {primary}")
        return VerifiedPayload(
            content=bytes(result.data),
            signer_subject=str(result.username or ""),
            signer_fingerprint=str(primary),
        )


def generate_pgp_key(name: str, email: str) -> PgpKeyPair:
    """Generate an unprotected Ed25519/Curve25519 OpenPGP key (demo and tests; fast)."""
    with gpg_home() as gpg:
        spec = gpg.gen_key_input(
            key_type="EDDSA",
            key_curve="ed25519",
            key_usage="sign",
            subkey_type="ECDH",
            subkey_curve="cv25519",
            subkey_usage="encrypt",
            name_real=name,
            name_email=email,
            expire_date="2y",
            no_protection=True,
        )
        generated = gpg.gen_key(spec)
        fingerprint = str(generated.fingerprint or "")
        if not fingerprint:
            raise CryptoError("gpg_failed", f"gpg could not generate a key: {generated.status}")
        secret = gpg.export_keys(fingerprint, secret=True, expect_passphrase=False)
        public = gpg.export_keys(fingerprint)
        return PgpKeyPair(secret.encode("ascii"), public.encode("ascii"), fingerprint)
