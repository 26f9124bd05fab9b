"""Keys and certificates read from files, re-read when a file changes (rotation without restart).

A file is parsed again when its modification time, size or inode changes, so replacing a key
or certificate in place or by rename takes effect on the next use. Paths come from settings
(which resolves env `*_FILE` variables); nothing here reads the environment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.delivery.crypto.errors import CryptoError
from gateway.delivery.crypto.identity import DecryptionIdentity, SignerIdentity, SigningKey

T = TypeVar("T")


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """Parse one DER certificate or a PEM bundle of one or more."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def parse_certificate(data: bytes) -> x509.Certificate:
    """Parse exactly one certificate, PEM or DER."""
    certs = parse_certificates(data)
    if len(certs) != 1:
        raise ValueError(f"expected one certificate, found {len(certs)}")
    return certs[0]


def parse_private_key(data: bytes, password: bytes | None = None) -> SigningKey:
    """Parse an RSA or EC private key, PEM or DER, optionally password-protected."""
    if data.lstrip().startswith(b"-----BEGIN"):
        key = serialization.load_pem_private_key(data, password)
    else:
        key = serialization.load_der_private_key(data, password)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def parse_crl(data: bytes) -> x509.CertificateRevocationList:
    """Parse a CRL, PEM or DER."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


class FileCache(Generic[T]):
    """Parsed contents of files, kept until the file's mtime, size or inode changes."""

    def __init__(self, parse: Callable[[bytes], T]) -> None:
        self._parse = parse
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[tuple[int, int, int], T]] = {}

    def get(self, path: str | os.PathLike[str]) -> T:
        """Return the parsed file, reading it again only if it changed since the last read."""
        path = Path(path)
        try:
            stat = path.stat()
        except OSError as exc:
            raise CryptoError("malformed", f"cannot read {path}: {exc.strerror}") from exc
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            cached = self._entries.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        try:
            value = self._parse(path.read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            raise CryptoError("malformed", f"cannot load {path}: {exc}") from exc
        with self._lock:
            self._entries[path] = (stamp, value)
        return value


class CertificateDirectory:
    """Parties' certificates, bundles and CRLs by file path, reloaded when the files change."""

    def __init__(self) -> None:
        self._certs: FileCache[list[x509.Certificate]] = FileCache(parse_certificates)
        self._crls: FileCache[x509.CertificateRevocationList] = FileCache(parse_crl)

    def certificate(self, path: str | os.PathLike[str]) -> x509.Certificate:
        """Return the one certificate in the file at `path` (the first, for a bundle)."""
        return self._certs.get(path)[0]

    def certificates(self, path: str | os.PathLike[str]) -> list[x509.Certificate]:
        """Return every certificate in the file at `path` (a CA bundle, or old and new)."""
        return list(self._certs.get(path))

    def crl(self, path: str | os.PathLike[str]) -> x509.CertificateRevocationList:
        """Return the CRL in the file at `path`."""
        return self._crls.get(path)


@dataclass(frozen=True)
class KeyPairPaths:
    """Where one private key and its certificate live."""

    key: Path
    cert: Path


class KeyStore:
    """The gateway's own keys: one signing identity and one or more decryption identities.

    Decryption keys are tried in order, so list the current one first and keep the previous
    one until senders have moved to the new certificate.
    """

    def __init__(
        self,
        signing: KeyPairPaths,
        decryption: Sequence[KeyPairPaths] = (),
        *,
        chain: Path | None = None,
        password: bytes | None = None,
    ) -> None:
        self._signing = signing
        self._decryption = tuple(decryption)
        self._chain = chain
        self._keys: FileCache[SigningKey] = FileCache(
            lambda data: parse_private_key(data, password)
        )
        self.certificates = CertificateDirectory()

    def signer(self) -> SignerIdentity:
        """Return the current signing identity; CryptoError('key_mismatch') mid-rotation."""
        chain = tuple(self.certificates.certificates(self._chain)) if self._chain else ()
        return SignerIdentity(
            key=self._keys.get(self._signing.key),
            certificate=self.certificates.certificate(self._signing.cert),
            chain=chain,
        )

    def decryption_identities(self) -> list[DecryptionIdentity]:
        """Return our decryption identities, current first."""
        identities = []
        for pair in self._decryption:
            key = self._keys.get(pair.key)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise CryptoError("unsupported", f"{pair.key}: decryption keys must be RSA")
            identities.append(DecryptionIdentity(key, self.certificates.certificate(pair.cert)))
        return identities
