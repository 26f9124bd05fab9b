"""Verify a CMS SignedData against registered sender certificates.

`cryptography` (50.x) builds SignedData but offers no public API to verify one, so this module
does it by hand, following RFC 5652 §5.4 and §5.6, with `asn1crypto` for parsing only:

1. find the SignerInfo whose `sid` (issuer and serial, or subject key identifier) names one of
   the *registered* certificates; certificates embedded in the message are never trusted;
2. digest the content with the SignerInfo's digest algorithm;
3. with signed attributes: require the content-type attribute to equal the encapsulated content
   type and the message-digest attribute to equal that digest, then check the signature over
   the DER of the attributes re-tagged as a SET OF (the original bytes, never re-encoded);
   without signed attributes: check the signature over the content itself;
4. the signature check itself is `cryptography`'s RSA (PKCS#1 v1.5 or PSS) or ECDSA `verify`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped]
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from gateway.delivery.crypto.errors import CryptoError

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of a good signature: the signed content and the certificate that signed it."""

    content: bytes
    signer: x509.Certificate


def load_signed_data(data: bytes) -> asn1_cms.SignedData:
    """Parse DER/BER ContentInfo bytes that must hold a SignedData."""
    try:
        info = asn1_cms.ContentInfo.load(data)
        content_type = info["content_type"].native
        content = info["content"]
        # Touch the tree so that truncated or garbage input fails here, not half-way through.
        _ = content.native
    except (ValueError, TypeError, KeyError) as exc:
        raise CryptoError("malformed", f"not a CMS structure: {exc}") from exc
    if content_type == "enveloped_data":
        raise CryptoError("unsupported", "nested encryption: expected signed data inside")
    if content_type != "signed_data":
        raise CryptoError("unsigned", f"expected CMS signed data, found {content_type}")
    assert isinstance(content, asn1_cms.SignedData)
    return content


def verify_signed_data(
    signed: asn1_cms.SignedData,
    trusted: Sequence[x509.Certificate],
    detached_content: bytes | None = None,
) -> SignatureCheck:
    """Check that `signed` carries a good signature by one of the `trusted` certificates.

    Raise CryptoError: 'unsigned' without signer infos, 'untrusted_signer' when no signer is
    registered, 'bad_signature' when a registered signer's signature or digest fails.
    """
    encap = signed["encap_content_info"]
    embedded = encap["content"].native if encap["content"] else None
    content = embedded if embedded is not None else detached_content
    if content is None:
        raise CryptoError("malformed", "signed data has no content and none was supplied")
    if not isinstance(content, bytes):
        raise CryptoError("unsupported", "encapsulated content is not an octet string")
    content_type = encap["content_type"].dotted
    signer_infos = list(signed["signer_infos"])
    if not signer_infos:
        raise CryptoError("unsigned", "signed data has no signer")

    trusted_asn1 = [(cert, asn1_x509.Certificate.load(_der(cert))) for cert in trusted]
    named: list[str] = []
    for signer_info in signer_infos:
        cert = _registered_signer(signer_info, trusted_asn1)
        if cert is None:
            named.append(_describe_sid(signer_info, signed))
            continue
        _check_signer_info(signer_info, cert, content, content_type)
        return SignatureCheck(content=content, signer=cert)
    raise CryptoError(
        "untrusted_signer",
        "signed by a certificate not registered for this sender: " + "; ".join(named),
    )


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _registered_signer(
    signer_info: asn1_cms.SignerInfo,
    trusted: list[tuple[x509.Certificate, asn1_x509.Certificate]],
) -> x509.Certificate | None:
    sid = signer_info["sid"]
    for cert, parsed in trusted:
        if sid.name == "issuer_and_serial_number":
            issuer_serial = sid.chosen
            if (
                issuer_serial["issuer"] == parsed.issuer
                and issuer_serial["serial_number"].native == parsed.serial_number
            ):
                return cert
        elif (
            sid.name == "subject_key_identifier"
            and parsed.key_identifier is not None
            and sid.chosen.native == parsed.key_identifier
        ):
            return cert
    return None


def _describe_sid(signer_info: asn1_cms.SignerInfo, signed: asn1_cms.SignedData) -> str:
    """Name the signer for people: the subject of the embedded certificate it points to, if any."""
    sid = signer_info["sid"]
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        embedded = choice.chosen
        if (
            sid.name == "issuer_and_serial_number"
            and sid.chosen["issuer"] == embedded.issuer
            and sid.chosen["serial_number"].native == embedded.serial_number
        ) or (
            sid.name == "subject_key_identifier" and sid.chosen.native == embedded.key_identifier
        ):
            return f"{embedded.subject.human_friendly} (certificate carried in the message)"
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"].human_friendly
        return f"issuer {issuer}, serial {sid.chosen['serial_number'].native:x}"
    return f"subject key identifier {sid.chosen.native.hex()}"


def _check_signer_info(
    signer_info: asn1_cms.SignerInfo,
    cert: x509.Certificate,
    content: bytes,
    content_type: str,
) -> None:
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    hash_cls = _HASHES.get(digest_name)
    if hash_cls is None:
        raise CryptoError("unsupported", f"digest algorithm {digest_name} is not accepted")
    digest = hashlib.new(digest_name, content).digest()

    signed_attrs = signer_info["signed_attrs"]
    if isinstance(signed_attrs, asn1_core.Void) or len(signed_attrs) == 0:
        to_verify = content
    else:
        _check_signed_attributes(signed_attrs, digest, content_type)
        # The signature covers the attributes encoded as a SET OF (tag 0x31), not as [0].
        encoded = signed_attrs.dump()
        to_verify = b"\x31" + encoded[1:]

    signature = signer_info["signature"].native
    _verify_signature(signer_info, cert, signature, to_verify, hash_cls())


def _check_signed_attributes(
    signed_attrs: asn1_cms.CMSAttributes, digest: bytes, content_type: str
) -> None:
    values: dict[str, list[object]] = {}
    for attribute in signed_attrs:
        values.setdefault(attribute["type"].dotted, []).append(attribute["values"])
    message_digests = values.get("1.2.840.113549.1.9.4", [])
    content_types = values.get("1.2.840.113549.1.9.3", [])
    if len(message_digests) != 1 or len(content_types) != 1:
        raise CryptoError("bad_signature", "signed attributes lack one message digest or type")
    (md_values,) = message_digests
    (ct_values,) = content_types
    assert isinstance(md_values, asn1_core.SetOf)
    assert isinstance(ct_values, asn1_core.SetOf)
    if len(md_values) != 1 or md_values[0].native != digest:
        raise CryptoError("bad_signature", "content does not match the signed digest (altered)")
    if len(ct_values) != 1 or ct_values[0].dotted != content_type:
        raise CryptoError("bad_signature", "signed content type does not match the content")


def _verify_signature(
    signer_info: asn1_cms.SignerInfo,
    cert: x509.Certificate,
    signature: bytes,
    data: bytes,
    hash_alg: hashes.HashAlgorithm,
) -> None:
    algorithm = signer_info["signature_algorithm"]
    kind = algorithm.signature_algo
    public_key = cert.public_key()
    try:
        if kind == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hash_alg)
        elif kind == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, _pss_padding(algorithm), hash_alg)
        elif kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hash_alg))
        elif kind in {"rsassa_pkcs1v15", "rsassa_pss", "ecdsa"}:
            raise CryptoError(
                "bad_signature",
                f"{kind} signature cannot come from the registered {type(public_key).__name__}",
            )
        else:
            raise CryptoError("unsupported", f"signature algorithm {kind} is not accepted")
    except InvalidSignature as exc:
        raise CryptoError(
            "bad_signature", "signature does not verify with the sender's key"
        ) from exc


def _pss_padding(algorithm: asn1_cms.SignedDigestAlgorithm) -> padding.PSS:
    params = algorithm["parameters"]
    mgf_hash_name = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
    mgf_hash = _HASHES.get(mgf_hash_name)
    if mgf_hash is None:
        raise CryptoError("unsupported", f"PSS mask hash {mgf_hash_name} is not accepted")
    return padding.PSS(mgf=padding.MGF1(mgf_hash()), salt_length=params["salt_length"].native)
