"""S/MIME entities for mail: build sign-then-encrypt ones, and take signed ones apart.

Outbound, the payload becomes a base64 MIME part (so canonicalisation cannot change a byte),
is signed as `multipart/signed` (detached CMS signature, which every S/MIME client reads) and
the whole signed entity is enveloped as `application/pkcs7-mime; smime-type=enveloped-data;
name=smime.p7m` (RFC 8551 §3.7). Lines end in CRLF, as on the wire.

Inbound, a decrypted entity may be `multipart/signed` (detached signature, `openssl cms -sign`'s
default) or `application/pkcs7-mime; smime-type=signed-data` (opaque, `-nodetach`).
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message

from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from gateway.delivery.crypto.cms import envelope, signature_builder
from gateway.delivery.crypto.cms_verify import load_signed_data
from gateway.delivery.crypto.errors import CryptoError
from gateway.delivery.crypto.identity import SignerIdentity

SMIME_MEDIA_TYPE = 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$")
_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def to_crlf(data: bytes) -> bytes:
    """Return `data` with every line ending as CRLF (the canonical form of MIME text)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def build_mime_entity(
    payload: bytes, content_type: str = "application/octet-stream", filename: str | None = None
) -> bytes:
    """Wrap `payload` as a base64 MIME part with CRLF line ends, ready to be signed."""
    if not _SAFE_TOKEN.match(content_type):
        raise ValueError(f"content type {content_type!r} is not a plain type/subtype")
    headers = [f"Content-Type: {content_type}"]
    if filename is not None:
        if not _SAFE_FILENAME.match(filename):
            raise ValueError(f"file name {filename!r} has characters a mail header cannot carry")
        headers[0] += f'; name="{filename}"'
        headers.append(f'Content-Disposition: attachment; filename="{filename}"')
    headers.append("Content-Transfer-Encoding: base64")
    body = base64.encodebytes(payload)  # 76-character lines, LF: made CRLF below
    return to_crlf("\n".join(headers).encode("ascii") + b"\n\n" + body)


def protect_smime(
    payload: bytes,
    signer: SignerIdentity,
    recipients: Sequence[x509.Certificate],
    *,
    content_type: str = "application/octet-stream",
    filename: str | None = None,
) -> bytes:
    """Sign then encrypt `payload` as an S/MIME entity (headers and body) for a mail body."""
    entity = build_mime_entity(payload, content_type, filename)
    signed = signature_builder(entity, signer).sign(
        serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature]
    )
    return to_crlf(envelope(to_crlf(signed), recipients, serialization.Encoding.SMIME))


@dataclass(frozen=True)
class SignedEntity:
    """A signed MIME entity taken apart: the CMS SignedData and, if detached, what it signs."""

    signed_data: asn1_cms.SignedData
    detached_content: bytes | None


def split_signed_entity(entity: bytes) -> SignedEntity:
    """Find the CMS signature (and the signed part, if detached) in a signed MIME entity."""
    entity = to_crlf(entity)
    message = email.message_from_bytes(entity, policy=email.policy.compat32)
    media_type = message.get_content_type()
    if media_type == "multipart/signed":
        boundary = message.get_boundary()
        if not boundary:
            raise CryptoError("malformed", "multipart/signed without a boundary")
        parts = message.get_payload()
        if not isinstance(parts, list) or len(parts) != 2:
            raise CryptoError("malformed", "multipart/signed must have exactly two parts")
        signature_part = parts[1]
        if not isinstance(signature_part, Message):
            raise CryptoError("malformed", "multipart/signed part is not a MIME entity")
        if signature_part.get_content_type() not in {
            "application/pkcs7-signature",
            "application/x-pkcs7-signature",
        }:
            raise CryptoError(
                "unsupported", f"signature part is {signature_part.get_content_type()}"
            )
        signature = _decoded(signature_part)
        return SignedEntity(load_signed_data(signature), _first_part_bytes(entity, boundary))
    if media_type in {"application/pkcs7-mime", "application/x-pkcs7-mime"}:
        smime_type = message.get_param("smime-type") or "signed-data"
        if smime_type != "signed-data":
            raise CryptoError("unsupported", f"inner S/MIME type {smime_type!r}")
        return SignedEntity(load_signed_data(_decoded(message)), None)
    raise CryptoError("unsigned", f"decrypted content is {media_type}, not a signed entity")


def _decoded(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data:
        raise CryptoError("malformed", "empty or undecodable S/MIME part")
    return data


def _first_part_bytes(entity: bytes, boundary: str) -> bytes:
    """Return the first body part exactly as sent (RFC 1847: what a detached signature covers)."""
    delimiter = b"--" + boundary.encode("ascii")
    header_end = entity.find(b"\r\n\r\n")
    start = entity.find(delimiter + b"\r\n", header_end if header_end >= 0 else 0)
    if start < 0:
        raise CryptoError("malformed", "multipart/signed boundary not found")
    start += len(delimiter) + 2
    end = entity.find(b"\r\n" + delimiter, start)
    if end < 0:
        raise CryptoError("malformed", "multipart/signed has no closing boundary")
    return entity[start:end]


@dataclass(frozen=True)
class MimePayload:
    """The useful content of a verified MIME entity: bytes, media type and file name."""

    content: bytes
    content_type: str
    filename: str | None


def extract_payload(entity: bytes) -> MimePayload:
    """Decode the payload of a verified MIME entity: its first attachment, else its first leaf."""
    message = email.message_from_bytes(entity, policy=email.policy.compat32)
    leaves = [part for part in message.walk() if not part.is_multipart()]
    if not leaves:
        raise CryptoError("malformed", "signed entity has no content")
    chosen = next(
        (part for part in leaves if part.get_content_disposition() == "attachment"), leaves[0]
    )
    data = chosen.get_payload(decode=True)
    if not isinstance(data, bytes):
        raise CryptoError("malformed", "signed entity content cannot be decoded")
    return MimePayload(data, chosen.get_content_type(), chosen.get_filename())
