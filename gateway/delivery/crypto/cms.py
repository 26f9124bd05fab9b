"""CMS sign-then-envelope for `.p7m` files, and CMS decryption, on `cryptography`'s pkcs7 API.

Outbound, `protect_der` signs the payload with the gateway's key (SignedData, SHA-256, content
embedded; RSA PKCS#1 v1.5 or ECDSA by key type) and envelopes that SignedData to every recipient
certificate (EnvelopedData, AES-256-CBC, RSA key transport). The result reads with
`openssl cms -decrypt -inform DER ... | openssl cms -verify -inform DER`.

Limits of `cryptography` 50 that shape this module: enveloping supports RSA recipients only
(no ECDH key agreement) and AES-CBC only (no AuthEnvelopedData/GCM); signature verification is
missing altogether and lives in `cms_verify`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from gateway.delivery.crypto.errors import CryptoError
from gateway.delivery.crypto.identity import DecryptionIdentity, SignerIdentity

P7M_MEDIA_TYPE = "application/pkcs7-mime; smime-type=enveloped-data"
P7M_SUFFIX = ".p7m"


def signature_builder(data: bytes, signer: SignerIdentity) -> pkcs7.PKCS7SignatureBuilder:
    """Return a SHA-256 signature builder over `data` for `signer`, carrying its chain."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    builder = builder.add_signer(signer.certificate, signer.key, hashes.SHA256())
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    return builder


def sign_der(payload: bytes, signer: SignerIdentity) -> bytes:
    """Return a DER CMS SignedData holding `payload` byte for byte, signed by `signer`."""
    builder = signature_builder(payload, signer)
    return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def check_recipients(recipients: Sequence[x509.Certificate]) -> None:
    """Raise CryptoError unless there is at least one recipient and each has an RSA key."""
    if not recipients:
        raise CryptoError("unusable_certificate", "no recipient certificate to encrypt to")
    for cert in recipients:
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise CryptoError(
                "unusable_certificate",
                f"{cert.subject.rfc4514_string()}: only RSA certificates can be encrypted to "
                "(the cryptography library has no ECDH key agreement for CMS)",
            )


def envelope(
    data: bytes,
    recipients: Sequence[x509.Certificate],
    encoding: serialization.Encoding,
) -> bytes:
    """Encrypt `data` with AES-256 to every certificate in `recipients` (CMS EnvelopedData)."""
    check_recipients(recipients)
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(data)
    builder = builder.set_content_encryption_algorithm(algorithms.AES256)
    for cert in recipients:
        builder = builder.add_recipient(cert)
    return builder.encrypt(encoding, [pkcs7.PKCS7Options.Binary])


def protect_der(
    payload: bytes, signer: SignerIdentity, recipients: Sequence[x509.Certificate]
) -> bytes:
    """Sign `payload` then envelope it to `recipients`: the `.p7m` file body (DER)."""
    return envelope(sign_der(payload, signer), recipients, serialization.Encoding.DER)


def decrypt(
    data: bytes,
    identities: Iterable[DecryptionIdentity],
    encoding: serialization.Encoding,
) -> bytes:
    """Decrypt a CMS EnvelopedData (DER, PEM or S/MIME) with the first identity it names.

    Several identities allow a key rotation: copies encrypted to the old certificate still open.
    """
    decrypt_fn = {
        serialization.Encoding.DER: pkcs7.pkcs7_decrypt_der,
        serialization.Encoding.PEM: pkcs7.pkcs7_decrypt_pem,
        serialization.Encoding.SMIME: pkcs7.pkcs7_decrypt_smime,
    }[encoding]
    tried: list[str] = []
    for identity in identities:
        try:
            return decrypt_fn(data, identity.certificate, identity.key, [])
        except ValueError as exc:
            message = str(exc)
            if "No recipient found" in message:
                tried.append(identity.certificate.subject.rfc4514_string())
                continue
            if "not an EnvelopedData" in message:
                raise CryptoError("not_encrypted", "the message is not CMS enveloped data") from exc
            if "Only" in message or "not supported" in message.lower():
                raise CryptoError("unsupported", message) from exc
            raise CryptoError("malformed", f"cannot decrypt: {message}") from exc
        except Exception as exc:  # the pkcs7 API raises assorted types on malformed input
            raise CryptoError("malformed", f"cannot decrypt: {exc}") from exc
    raise CryptoError(
        "not_for_us",
        "not encrypted to any of our certificates (" + "; ".join(tried) + ")",
    )
