"""The one error type of message crypto, with a machine-readable reason."""

from __future__ import annotations

from typing import Literal

from gateway.domain.errors import GatewayError

CryptoReason = Literal[
    "malformed",  # not CMS / S/MIME / OpenPGP we can parse
    "not_encrypted",  # signed only, or plain: inbound copies must be encrypted
    "not_for_us",  # encrypted to someone else's certificate or key
    "unsupported",  # an algorithm or structure we do not handle
    "untrusted_signer",  # signed by a certificate or key that is not registered for the sender
    "bad_signature",  # signature or content digest does not check out (tampered)
    "unsigned",  # no signature at all
    "key_mismatch",  # a private key that does not belong to its certificate
    "unusable_certificate",  # recipient certificate expired, revoked, wrong usage, ...
    "gpg_failed",  # GnuPG refused for a reason not listed above
]


class CryptoError(GatewayError):
    """Signing, encryption, decryption or verification failed; `reason` says which way."""

    def __init__(self, reason: CryptoReason, detail: str) -> None:
        self.reason: CryptoReason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")
