"""A demo PKI: a CA, the gateway's keys, and keys for each named authority or force.

File layout under `out_dir` (certificates PEM, keys unencrypted PKCS#8 PEM with mode 0600):

    ca.pem, ca.key                      demo CA (self-signed, 10 years)
    gateway.pem, gateway.key            gateway signing certificate (key type as asked)
    gateway-enc.pem, gateway-enc.key    gateway decryption certificate (RSA-3072, always)
    parties/<name>.pem, <name>.key      a party's signing certificate (key type as asked)
    parties/<name>-enc.pem, -enc.key    a party's encryption certificate (RSA-3072, always)
    pgp/<name>.sec.asc, <name>.pub.asc  OpenPGP keys (`init_demo_pgp_keys`; "gateway" included)

Signing and encryption keys are separate because CMS enveloping in `cryptography` supports
RSA recipients only, while signing may be ECDSA. The default key type is ECDSA P-256: it is
generated in well under a millisecond, where each RSA-3072 key takes about 0.2 s.

Idempotent: a key pair whose files exist, match each other and chain to the current CA is kept;
anything missing or inconsistent is (re)issued. Keys are created 0600 from the first byte.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.delivery.crypto.errors import CryptoError
from gateway.delivery.crypto.identity import (
    DecryptionIdentity,
    SignerIdentity,
    SigningKey,
    check_key_matches,
)
from gateway.delivery.crypto.keystore import (
    FileCache,
    KeyPairPaths,
    KeyStore,
    parse_certificate,
    parse_private_key,
)
from gateway.delivery.crypto.pgp import generate_pgp_key

KeyType = Literal["rsa", "ec"]
Usage = Literal["ca", "signing", "encryption", "both"]
ORGANISATION = "Missing Children Gateway (demo)"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Parsing an RSA key checks it (about 0.2 s for RSA-3072): parse each file version once.
_KEYS: FileCache[SigningKey] = FileCache(parse_private_key)
_CERTS: FileCache[x509.Certificate] = FileCache(parse_certificate)


def generate_key(key_type: KeyType) -> SigningKey:
    """Generate an RSA-3072 or ECDSA P-256 private key."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"key type must be 'rsa' or 'ec', not {key_type!r}")


def _key_usage(usage: Usage) -> x509.KeyUsage:
    signing = usage in ("signing", "both")
    encryption = usage in ("encryption", "both")
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,
        key_encipherment=encryption,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=usage == "ca",
        crl_sign=usage == "ca",
        encipher_only=False,
        decipher_only=False,
    )


def issue_certificate(
    common_name: str,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    issuer: tuple[x509.Certificate, SigningKey] | SigningKey,
    *,
    usage: Usage,
    not_before: datetime,
    not_after: datetime,
    serial: int | None = None,
) -> x509.Certificate:
    """Issue a certificate for `public_key`, signed by `issuer` (a CA pair, or a key to self-sign).

    Deliberately flexible (any dates, any usage) so tests can make expired, not-yet-valid or
    wrong-usage certificates with the same code that makes good ones.
    """
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    if isinstance(issuer, tuple):
        issuer_cert, issuer_key = issuer
        issuer_name = issuer_cert.subject
        authority_key = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
    else:
        issuer_key, issuer_name = issuer, subject
        authority_key = x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=usage == "ca", path_length=None), critical=True)
        .add_extension(_key_usage(usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(authority_key, critical=False)
    )
    if usage != "ca":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def write_private_key(path: Path, key: SigningKey) -> None:
    """Write `key` as unencrypted PKCS#8 PEM, readable by the owner only (0600)."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_secret(path, data)


def _write_secret(path: Path, data: bytes) -> None:
    """Write `data` to a file created 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)  # in case the file existed with wider permissions
        handle.write(data)


def write_certificate(path: Path, cert: x509.Certificate) -> None:
    """Write `cert` as PEM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True)
class IdentityFiles:
    """One party's (or the gateway's) signing and encryption key pairs on disk."""

    name: str
    signing: KeyPairPaths
    encryption: KeyPairPaths

    def signer(self) -> SignerIdentity:
        """Load the signing identity."""
        return SignerIdentity(_KEYS.get(self.signing.key), _CERTS.get(self.signing.cert))

    def decryption(self) -> DecryptionIdentity:
        """Load the decryption identity."""
        key = _KEYS.get(self.encryption.key)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CryptoError("unsupported", f"{self.encryption.key}: not an RSA key")
        return DecryptionIdentity(key, _CERTS.get(self.encryption.cert))

    def signing_certificate(self) -> x509.Certificate:
        """Load the signing certificate (what the other side registers to verify us)."""
        return _CERTS.get(self.signing.cert)

    def encryption_certificate(self) -> x509.Certificate:
        """Load the encryption certificate (what the other side encrypts to)."""
        return _CERTS.get(self.encryption.cert)


@dataclass(frozen=True)
class DemoPki:
    """Where `init_demo_pki` put everything."""

    root: Path
    key_type: KeyType
    ca_cert: Path
    ca_key: Path
    gateway: IdentityFiles
    parties: dict[str, IdentityFiles] = field(default_factory=dict)

    def ca(self) -> x509.Certificate:
        """Load the CA certificate."""
        return _CERTS.get(self.ca_cert)

    def keystore(self) -> KeyStore:
        """Return a KeyStore over the gateway's files (reloads them when they change)."""
        return KeyStore(self.gateway.signing, [self.gateway.encryption])


def _pair_paths(folder: Path, stem: str) -> KeyPairPaths:
    return KeyPairPaths(key=folder / f"{stem}.key", cert=folder / f"{stem}.pem")


def _load_pair(
    paths: KeyPairPaths, ca: x509.Certificate | None
) -> tuple[x509.Certificate, SigningKey] | None:
    """Return the existing pair if both files exist, match, and chain to `ca`; else None."""
    if not (paths.key.exists() and paths.cert.exists()):
        return None
    try:
        key = _KEYS.get(paths.key)
        cert = _CERTS.get(paths.cert)
        check_key_matches(key, cert)
        cert.verify_directly_issued_by(ca if ca is not None else cert)
    except (ValueError, TypeError, InvalidSignature, CryptoError):
        return None
    return cert, key


def _ensure_pair(
    paths: KeyPairPaths,
    common_name: str,
    key_type: KeyType,
    usage: Usage,
    ca: tuple[x509.Certificate, SigningKey] | None,
    now: datetime,
    lifetime: timedelta,
) -> tuple[x509.Certificate, SigningKey]:
    existing = _load_pair(paths, ca[0] if ca else None)
    if existing is not None:
        return existing
    key = generate_key(key_type)
    cert = issue_certificate(
        common_name,
        key.public_key(),
        ca if ca is not None else key,
        usage=usage,
        not_before=now - timedelta(hours=1),
        not_after=now + lifetime,
    )
    write_private_key(paths.key, key)
    write_certificate(paths.cert, cert)
    return cert, key


def _ensure_identity(
    folder: Path,
    name: str,
    key_type: KeyType,
    ca: tuple[x509.Certificate, SigningKey],
    now: datetime,
) -> IdentityFiles:
    files = IdentityFiles(name, _pair_paths(folder, name), _pair_paths(folder, f"{name}-enc"))
    lifetime = timedelta(days=730)
    _ensure_pair(files.signing, name, key_type, "signing", ca, now, lifetime)
    _ensure_pair(files.encryption, f"{name} (encryption)", "rsa", "encryption", ca, now, lifetime)
    return files


@dataclass(frozen=True)
class PgpKeyFiles:
    """One armored OpenPGP key pair on disk."""

    secret: Path
    public: Path


def init_demo_pgp_keys(out_dir: Path, names: Iterable[str]) -> dict[str, PgpKeyFiles]:
    """Create (or keep) Ed25519/Curve25519 OpenPGP keys for the gateway and each name."""
    result: dict[str, PgpKeyFiles] = {}
    for name in ["gateway", *names]:
        if not _NAME.match(name):
            raise ValueError(f"party name {name!r}: use lower-case letters, digits, - and _")
        files = PgpKeyFiles(
            out_dir / "pgp" / f"{name}.sec.asc", out_dir / "pgp" / f"{name}.pub.asc"
        )
        if not (files.secret.exists() and files.public.exists()):
            pair = generate_pgp_key(f"{name} (demo)", f"{name}@demo.invalid")
            _write_secret(files.secret, pair.secret)
            files.public.write_bytes(pair.public)
        result[name] = files
    return result


def init_demo_pki(
    out_dir: Path,
    names: Iterable[str],
    key_type: KeyType = "ec",
    *,
    now: datetime | None = None,
) -> DemoPki:
    """Create (or complete) a demo CA, the gateway's keys and each named party's keys."""
    now = now or datetime.now(UTC)
    name_list = list(dict.fromkeys(names))
    for name in name_list:
        if not _NAME.match(name):
            raise ValueError(f"party name {name!r}: use lower-case letters, digits, - and _")
    out_dir.mkdir(parents=True, exist_ok=True)
    ca_paths = _pair_paths(out_dir, "ca")
    ca = _ensure_pair(ca_paths, "Demo CA", key_type, "ca", None, now, timedelta(days=3650))
    gateway = _ensure_identity(out_dir, "gateway", key_type, ca, now)
    parties = {
        name: _ensure_identity(out_dir / "parties", name, key_type, ca, now) for name in name_list
    }
    return DemoPki(out_dir, key_type, ca_paths.cert, ca_paths.key, gateway, parties)
