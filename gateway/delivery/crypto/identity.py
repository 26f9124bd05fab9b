"""Who signs and who decrypts: a private key held together with its certificate."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.delivery.crypto.errors import CryptoError

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _public_der(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | object) -> bytes:
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise CryptoError("unsupported", f"unsupported public key type {type(key).__name__}")
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_key_matches(key: SigningKey, certificate: x509.Certificate) -> None:
    """Raise CryptoError('key_mismatch') unless `key` is the private half of `certificate`."""
    if _public_der(key.public_key()) != _public_der(certificate.public_key()):
        raise CryptoError(
            "key_mismatch",
            f"private key does not belong to certificate {certificate.subject.rfc4514_string()}",
        )


@dataclass(frozen=True)
class SignerIdentity:
    """The gateway's signing key, its certificate and any intermediate CA certificates."""

    key: SigningKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a key that does not match the certificate (a half-finished rotation)."""
        check_key_matches(self.key, self.certificate)


@dataclass(frozen=True)
class DecryptionIdentity:
    """An RSA key the gateway decrypts inbound copies with, and the certificate senders use."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def __post_init__(self) -> None:
        """Refuse a key that does not match the certificate."""
        check_key_matches(self.key, self.certificate)


@dataclass(frozen=True)
class VerifiedPayload:
    """Content that decrypted for us and carries a good signature from a trusted sender."""

    content: bytes
    signer_subject: str
    signer_certificate: x509.Certificate | None = None
    signer_fingerprint: str = ""  # SHA-256 of the certificate, or the OpenPGP key fingerprint
    content_type: str | None = None  # from the inner MIME entity, for S/MIME mail
    filename: str | None = None
