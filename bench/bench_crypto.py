"""Time sign-then-encrypt per message for each signing key type, beside the primitive floor.

For each key type (RSA-3072, ECDSA P-256) and payload size (2 KB, 64 KB) prints the mean time of:
  p7m     protect_der: CMS SignedData + EnvelopedData (AES-256-CBC, RSA-3072 recipient), DER
  smime   protect_smime: the same as an S/MIME mail body entity
  floor   the bare primitives: one signature over the payload with the signing key, one
          AES-256-GCM encryption of the payload, one RSA-OAEP wrap of the 32-byte key
  open    unprotect of the p7m by the recipient (decrypt + our hand-written verify)
and once for OpenPGP (GnuPG, Ed25519/Curve25519), which pays for a process and a keyring each time.

Run: .venv/bin/python bench/bench_crypto.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.delivery.crypto import init_demo_pki, protect_der, protect_smime, unprotect
from gateway.delivery.crypto.demo_pki import DemoPki, KeyType
from gateway.delivery.crypto.identity import SignerIdentity
from gateway.delivery.crypto.pgp import PgpSecretKey, generate_pgp_key, pgp_protect


def median_ms(action: Callable[[], object], rounds: int) -> float:
    """Run `action` once to warm up, then `rounds` times; return the median in milliseconds."""
    action()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def floor(payload: bytes, signer: SignerIdentity, recipient: rsa.RSAPublicKey) -> None:
    """One signature, one AES-256-GCM encryption and one RSA-OAEP key wrap: the least work."""
    if isinstance(signer.key, rsa.RSAPrivateKey):
        signer.key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    else:
        signer.key.sign(payload, ec.ECDSA(hashes.SHA256()))
    key = AESGCM.generate_key(bit_length=256)
    AESGCM(key).encrypt(os.urandom(12), payload, None)
    recipient.encrypt(
        key,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )


def cms_row(pki: DemoPki, payload: bytes, rounds: int) -> list[float]:
    """Return p7m, smime, floor and open timings for one PKI and payload."""
    signer = pki.gateway.signer()
    council = pki.parties["council"]
    recipients = [council.encryption_certificate()]
    recipient_key = recipients[0].public_key()
    assert isinstance(recipient_key, rsa.RSAPublicKey)
    ours = council.decryption()
    trusted = [pki.gateway.signing_certificate()]
    p7m = protect_der(payload, signer, recipients)
    return [
        median_ms(partial(protect_der, payload, signer, recipients), rounds),
        median_ms(partial(protect_smime, payload, signer, recipients), rounds),
        median_ms(partial(floor, payload, signer, recipient_key), rounds),
        median_ms(partial(unprotect, p7m, ours.key, ours.certificate, trusted), rounds),
    ]


def print_table(rounds: int) -> None:
    """Print sign+encrypt per message for each key type and payload, beside the floor."""
    payloads = {"2 KB": os.urandom(2048), "64 KB": os.urandom(65536)}
    key_types: list[tuple[KeyType, str]] = [("rsa", "RSA-3072"), ("ec", "ECDSA P-256")]

    with tempfile.TemporaryDirectory() as tmp:
        print(f"median of {rounds} rounds, milliseconds per message")
        print(f"{'signer':<12}{'payload':>8}{'p7m':>9}{'smime':>9}{'floor':>9}{'open':>9}")
        for key_type, label in key_types:
            pki = init_demo_pki(Path(tmp) / key_type, ["council"], key_type)
            for size, payload in payloads.items():
                row = cms_row(pki, payload, rounds)
                print(f"{label:<12}{size:>8}" + "".join(f"{v:>9.2f}" for v in row))

        gateway = PgpSecretKey(generate_pgp_key("Gateway", "gateway@demo.invalid").secret)
        council = generate_pgp_key("Council", "council@demo.invalid").public
        for size, payload in payloads.items():
            ms = median_ms(partial(pgp_protect, payload, gateway, council), max(3, rounds // 10))
            print(f"{'OpenPGP':<12}{size:>8}{ms:>9.2f}  (gpg process and temporary keyring)")


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    print_table(parser.parse_args().rounds)


if __name__ == "__main__":
    main()
