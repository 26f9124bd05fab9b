"""Open inbound copies from forces: decrypt for us, then verify the sender's signature.

Accepts the three shapes senders produce: a DER `.p7m`, a PEM one, or an S/MIME entity (a whole
mail or just its `application/pkcs7-mime` body). Inside the encryption the signed content may be
a DER SignedData or a signed MIME entity (`multipart/signed` or opaque `signed-data`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from asn1crypto import pem as asn1_pem  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.delivery.crypto.cms import decrypt
from gateway.delivery.crypto.cms_verify import load_signed_data, verify_signed_data
from gateway.delivery.crypto.errors import CryptoError
from gateway.delivery.crypto.identity import DecryptionIdentity, VerifiedPayload
from gateway.delivery.crypto.smime import extract_payload, split_signed_entity


def looks_protected(data: bytes) -> bool:
    """Say whether `data` looks like a CMS message (DER, PEM or S/MIME) rather than plain text."""
    if data[:1] == b"\x30" and len(data) > 1 and data[1] in (0x80, 0x81, 0x82, 0x83, 0x84):
        return True
    head = data.lstrip()[:2048].lower()
    return head.startswith(b"-----begin") or b"application/pkcs7-mime" in head or (
        b"application/x-pkcs7-mime" in head)


def detect_encoding(data: bytes) -> serialization.Encoding:
    """Tell DER, PEM and S/MIME apart by their first bytes."""
    head = data.lstrip()[:64]
    if data[:1] == b"\x30":
        return serialization.Encoding.DER
    if head.startswith(b"-----BEGIN"):
        return serialization.Encoding.PEM
    return serialization.Encoding.SMIME


def unprotect(
    data: bytes,
    our_key: rsa.RSAPrivateKey,
    our_cert: x509.Certificate,
    trusted_sender_certs: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
) -> VerifiedPayload:
    """Decrypt `data` with our key and verify it was signed by one of `trusted_sender_certs`.

    Raise CryptoError with reason 'not_for_us', 'untrusted_signer', 'bad_signature',
    'not_encrypted', 'unsigned', 'malformed' or 'unsupported'.
    """
    return unprotect_with(
        data, [DecryptionIdentity(our_key, our_cert)], trusted_sender_certs, now=now
    )


def unprotect_with(
    data: bytes,
    identities: Sequence[DecryptionIdentity],
    trusted_sender_certs: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
) -> VerifiedPayload:
    """Like `unprotect`, trying each of our identities in turn (current and previous keys).

    With `now`, a good signature by a sender certificate outside its validity period is refused.
    """
    encoding = detect_encoding(data)
    if encoding == serialization.Encoding.PEM:
        # cryptography reads only the PKCS7 label; `openssl cms` writes CMS. The DER is the same.
        data, encoding = _unarmor(data), serialization.Encoding.DER
    inner = decrypt(data, identities, encoding)
    return verify_inner(inner, trusted_sender_certs, now=now)


def _unarmor(data: bytes) -> bytes:
    try:
        label, _, der = asn1_pem.unarmor(data.strip())
    except ValueError as exc:
        raise CryptoError("malformed", f"bad PEM armor: {exc}") from exc
    if label not in {"PKCS7", "CMS"}:
        raise CryptoError("malformed", f"PEM block is {label}, not PKCS7 or CMS")
    return bytes(der)


def verify_inner(
    inner: bytes,
    trusted_sender_certs: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
) -> VerifiedPayload:
    """Verify decrypted content (DER SignedData or a signed MIME entity) and return its payload."""
    trusted = list(trusted_sender_certs)
    if inner[:1] == b"\x30":
        check = verify_signed_data(load_signed_data(inner), trusted)
        content, content_type, filename = check.content, None, None
    else:
        entity = split_signed_entity(inner)
        check = verify_signed_data(entity.signed_data, trusted, entity.detached_content)
        mime = extract_payload(check.content)
        content, content_type, filename = mime.content, mime.content_type, mime.filename
    if now is not None:
        _check_valid_at(check.signer, now)
    return VerifiedPayload(
        content=content,
        signer_subject=check.signer.subject.rfc4514_string(),
        signer_certificate=check.signer,
        signer_fingerprint=hashlib.sha256(
            check.signer.public_bytes(serialization.Encoding.DER)
        ).hexdigest(),
        content_type=content_type,
        filename=filename,
    )


def _check_valid_at(cert: x509.Certificate, now: datetime) -> None:
    subject = cert.subject.rfc4514_string()
    if now < cert.not_valid_before_utc:
        raise CryptoError(
            "untrusted_signer",
            f"signer certificate {subject} is not valid until {cert.not_valid_before_utc:%Y-%m-%d}",
        )
    if now > cert.not_valid_after_utc:
        raise CryptoError(
            "untrusted_signer",
            f"signer certificate {subject} expired on {cert.not_valid_after_utc:%Y-%m-%d}",
        )
